import CLibUring
import Glibc

/// Where a stream socket listens or connects: a unix socket path or a TCP address.
public enum SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// A unix stream socket at `path` (at most 107 bytes).
    case unix(path: String)
    /// A TCP endpoint; `host` is a numeric IPv4 or IPv6 address (e.g. `127.0.0.1`, `::1`).
    /// Port 0 asks the kernel to choose a free port when listening.
    case tcp(host: String, port: UInt16)

    public var description: String {
        switch self {
        case .unix(let path): "unix:\(path)"
        case .tcp(let host, let port): host.contains(":") ? "tcp:[\(host)]:\(port)" : "tcp:\(host):\(port)"
        }
    }

    var family: Int32 {
        switch self {
        case .unix: AF_UNIX
        case .tcp(let host, _): host.contains(":") ? AF_INET6 : AF_INET
        }
    }

    /// Writes the `sockaddr` form into `storage` and returns its length.
    func write(to storage: UnsafeMutablePointer<sockaddr_storage>) throws(ReactorError) -> socklen_t {
        unsafe storage.initialize(to: sockaddr_storage())
        switch self {
        case .unix(let path):
            let bytes = Array(path.utf8)
            let capacity = MemoryLayout.size(ofValue: sockaddr_un().sun_path)
            guard !bytes.isEmpty, bytes.count < capacity, !bytes.contains(0) else {
                throw ReactorError(
                    .invalidArgument, operation: "unix address",
                    detail: "path must be 1...\(capacity - 1) bytes without NUL: \(path)")
            }
            return unsafe storage.withMemoryRebound(to: sockaddr_un.self, capacity: 1) { address in
                unsafe address.pointee.sun_family = sa_family_t(AF_UNIX)
                unsafe withUnsafeMutableBytes(of: &address.pointee.sun_path) { raw in
                    for (index, byte) in bytes.enumerated() { unsafe raw[index] = byte }
                }
                return socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1)
            }
        case .tcp(let host, let port):
            if family == AF_INET {
                return try unsafe storage.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    address throws(ReactorError) in
                    unsafe address.pointee.sin_family = sa_family_t(AF_INET)
                    unsafe address.pointee.sin_port = port.bigEndian
                    guard unsafe inet_pton(AF_INET, host, &address.pointee.sin_addr) == 1 else {
                        throw ReactorError(
                            .invalidArgument, operation: "tcp address", detail: "not an IPv4 address: \(host)")
                    }
                    return socklen_t(MemoryLayout<sockaddr_in>.size)
                }
            }
            return try unsafe storage.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                address throws(ReactorError) in
                unsafe address.pointee.sin6_family = sa_family_t(AF_INET6)
                unsafe address.pointee.sin6_port = port.bigEndian
                guard unsafe inet_pton(AF_INET6, host, &address.pointee.sin6_addr) == 1 else {
                    throw ReactorError(
                        .invalidArgument, operation: "tcp address", detail: "not an IPv6 address: \(host)")
                }
                return socklen_t(MemoryLayout<sockaddr_in6>.size)
            }
        }
    }

    /// The address `call` (`getsockname` or `getpeername`) reports for socket `fd`.
    static func of(
        _ fd: Int32, _ call: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32,
        _ name: String
    ) throws(ReactorError) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try syscall(name) {
            unsafe withUnsafeMutablePointer(to: &storage) { pointer in
                unsafe pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { unsafe call(fd, $0, &length) }
            }
        }
        guard let address = unsafe read(from: &storage) else {
            throw ReactorError(.invalidArgument, operation: name, detail: "address family \(storage.ss_family)")
        }
        return address
    }

    /// Reads an address the kernel wrote (getsockname).
    static func read(from storage: UnsafePointer<sockaddr_storage>) -> SocketAddress? {
        switch Int32(unsafe storage.pointee.ss_family) {
        case AF_UNIX:
            return unsafe storage.withMemoryRebound(to: sockaddr_un.self, capacity: 1) { address in
                let path = unsafe withUnsafeBytes(of: address.pointee.sun_path) { raw in
                    unsafe String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                return .unix(path: path)
            }
        case AF_INET:
            return unsafe storage.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
                var raw = unsafe address.pointee.sin_addr
                unsafe inet_ntop(AF_INET, &raw, &text, socklen_t(text.count))
                return unsafe .tcp(
                    host: String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
                    port: UInt16(bigEndian: address.pointee.sin_port))
            }
        case AF_INET6:
            return unsafe storage.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
                var raw = unsafe address.pointee.sin6_addr
                unsafe inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count))
                return unsafe .tcp(
                    host: String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
                    port: UInt16(bigEndian: address.pointee.sin6_port))
            }
        default:
            return nil
        }
    }
}
