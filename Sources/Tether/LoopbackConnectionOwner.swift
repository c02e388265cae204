import TetherReactor

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Who is at the other end of a loopback TCP connection. `SO_PEERCRED` answers that for unix
/// sockets only; for TCP the kernel's connection table (`/proc/net/tcp`) gives each socket's
/// owner uid and inode, and `/proc/PID/fd` tells which process holds that inode.
enum LoopbackConnectionOwner {
    struct Entry: Equatable {
        var uid: UInt32
        var inode: UInt64
        var listening: Bool
    }

    /// The socket whose local end is `local` and remote end `remote` (IPv4), or the listening
    /// socket on `local` when `remote` is nil.
    static func entry(local: (host: String, port: UInt16), remote: (host: String, port: UInt16)?) -> Entry? {
        sockets(local: local).first { socket in
            if let remote { return socket.remote.host == remote.host && socket.remote.port == remote.port }
            return socket.entry.listening
        }?.entry
    }

    /// Every socket whose local end is `local` (IPv4), with its remote end: one read of the table.
    static func sockets(local: (host: String, port: UInt16)) -> [(remote: (host: String, port: UInt16), entry: Entry)] {
        // Read to the end: the kernel hands out the table a page per read, and a reader that
        // stops at the first one misses connections further down.
        guard let data = try? BlockingIO.readFile("/proc/net/tcp") else { return [] }
        let table = String(decoding: data, as: UTF8.self)
        // Thousands of rows (TIME_WAIT) are common: compare the local field's text before parsing.
        let localField = fieldText(local)
        var found: [(remote: (host: String, port: UInt16), entry: Entry)] = []
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", maxSplits: 10)
            guard fields.count >= 10, fields[1] == localField, let remoteEnd = endpoint(fields[2]),
                let uid = UInt32(fields[7]), let inode = UInt64(fields[9])
            else { continue }
            found.append((remoteEnd, Entry(uid: uid, inode: inode, listening: fields[3] == "0A")))
        }
        return found
    }

    /// ("127.0.0.1", 8080) → `0100007F:1F90`, the table's form.
    private static func fieldText(_ endpoint: (host: String, port: UInt16)) -> String {
        let octets = endpoint.host.split(separator: ".").compactMap { UInt32($0) }
        guard octets.count == 4 else { return "" }
        let word = octets[0] | octets[1] << 8 | octets[2] << 16 | octets[3] << 24
        return hex(word, digits: 8) + ":" + hex(UInt32(endpoint.port), digits: 4)
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    /// True when process `pid` has socket `inode` open (false when its fds cannot be read).
    static func process(_ pid: Int32, holdsSocket inode: UInt64) -> Bool {
        guard inode != 0, let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else {
            return false
        }
        let target = "socket:[\(inode)]"
        return fds.contains {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")) == target
        }
    }

    /// `0100007F:1F90` → ("127.0.0.1", 8080). The address is the kernel's 32-bit word in host
    /// (little-endian) byte order, the port in hex.
    private static func endpoint(_ text: Substring) -> (host: String, port: UInt16)? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, parts[0].count == 8, let word = UInt32(parts[0], radix: 16),
            let port = UInt16(parts[1], radix: 16)
        else { return nil }
        let host = [word & 0xff, (word >> 8) & 0xff, (word >> 16) & 0xff, word >> 24].map(String.init).joined(
            separator: ".")
        return (host, port)
    }
}
