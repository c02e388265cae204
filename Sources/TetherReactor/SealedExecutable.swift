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
/// exec) can still open. It is closed when the last reference goes: hold the object until the
/// child has started (`posix_spawn` returns after the child's exec).
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
    deinit {
        closeDescriptor(fileDescriptor.rawValue)
    }
}

/// What identifies a file's content without reading it: its device and inode, size, and the
/// times of its last change of content (mtime) and of anything (ctime, which no caller can set
/// back). A file rewritten in place, replaced or renamed over has another identity.
public struct FileIdentity: Hashable, Sendable {
    public let device: UInt64
    public let inode: UInt64
    public let size: Int64
    public let modifiedNanoseconds: Int64
    public let changedNanoseconds: Int64

    /// The identity of the file `path` names (following symbolic links).
    public init(of path: String) throws(ReactorError) {
        var info = stat()
        _ = try syscall("stat", detail: path) { unsafe stat(path, &info) }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        modifiedNanoseconds = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        changedNanoseconds = Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec)
    }
}
