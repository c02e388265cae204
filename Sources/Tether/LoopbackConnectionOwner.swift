import Foundation

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
        // Read to the end: the kernel hands out the table a page per read, and a reader that
        // stops at the first one misses connections further down.
        guard let handle = FileHandle(forReadingAtPath: "/proc/net/tcp") else { return nil }
        defer { try? handle.close() }
        guard let data = try? handle.readToEnd() else { return nil }
        let table = String(decoding: data, as: UTF8.self)
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count >= 10, let localEnd = endpoint(fields[1]), let remoteEnd = endpoint(fields[2]),
                let uid = UInt32(fields[7]), let inode = UInt64(fields[9])
            else { continue }
            let listening = fields[3] == "0A"
            guard localEnd.host == local.host, localEnd.port == local.port else { continue }
            if let remote {
                if remoteEnd.host == remote.host, remoteEnd.port == remote.port { return Entry(uid: uid, inode: inode, listening: listening) }
            } else if listening {
                return Entry(uid: uid, inode: inode, listening: true)
            }
        }
        return nil
    }

    /// True when process `pid` has socket `inode` open (false when its fds cannot be read).
    static func process(_ pid: Int32, holdsSocket inode: UInt64) -> Bool {
        guard inode != 0, let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else {
            return false
        }
        let target = "socket:[\(inode)]"
        return fds.contains { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")) == target }
    }

    /// `0100007F:1F90` → ("127.0.0.1", 8080). The address is the kernel's 32-bit word in host
    /// (little-endian) byte order, the port in hex.
    private static func endpoint(_ text: Substring) -> (host: String, port: UInt16)? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, parts[0].count == 8, let word = UInt32(parts[0], radix: 16),
            let port = UInt16(parts[1], radix: 16)
        else { return nil }
        let host = [word & 0xff, (word >> 8) & 0xff, (word >> 16) & 0xff, word >> 24].map(String.init).joined(separator: ".")
        return (host, port)
    }
}
