import CLibUring
import Glibc
import SystemPackage

/// An executable's bytes in a sealed in-memory file (`memfd_create` + every seal): nothing, not
/// even this process, can change them after ``init(bytes:name:)``. A process started from
/// ``path`` runs exactly these bytes, whatever happens to the file they were read from: the way
/// to run a binary that was verified after reading it (no window between the check and the exec
/// in which the file on disk could be swapped).
///
/// The descriptor is close-on-exec and stays this process's: ``path`` names it through this
/// process's `/proc/PID/fd/N`, which a child (whose own descriptors above 2 are closed before its
/// exec) can still open. Close it with ``close()`` once the child has started (`posix_spawn`
/// returns after the child's exec).
public final class SealedExecutable: Sendable {
    public let fileDescriptor: FileDescriptor

    /// Copies `bytes` into a new sealed memfd named `name` (for `/proc/PID/exe`, as `memfd:NAME`).
    ///
    /// - Throws: `ReactorError` for `memfd_create`, `write` or the seals (the message names which).
    public init(bytes: [UInt8], name: String) throws(ReactorError) {
        let fd = try syscall("memfd_create", detail: name) { unsafe tether_memfd_create_executable(name) }
        do {
            var offset = 0
            while offset < bytes.count {
                let remaining = bytes.count - offset
                let written = try syscall("write", detail: name) {
                    unsafe bytes.withUnsafeBytes { buffer in
                        unsafe Glibc.write(fd, buffer.baseAddress! + offset, remaining)
                    }
                }
                offset += written
            }
            _ = try syscall("fcntl F_ADD_SEALS", detail: name) { tether_seal_all(fd) }
        } catch {
            closeDescriptor(fd)
            throw error
        }
        fileDescriptor = FileDescriptor(rawValue: fd)
    }

    /// The path that names these bytes, for this process and its children, while the descriptor
    /// is open.
    public var path: String { "/proc/\(getpid())/fd/\(fileDescriptor.rawValue)" }

    /// Closes the descriptor; processes already started from it keep running.
    public func close() {
        closeDescriptor(fileDescriptor.rawValue)
    }
}
