import Glibc
import SystemPackage

/// Plain blocking `read`/`write` on a descriptor, without the ring: the baseline the benchmark
/// suite measures the reactor against, and a tool for code that must not depend on a reactor
/// (for example, a plugin's first handshake line). Not for use on a descriptor with reactor
/// operations in flight.
package enum BlockingIO {
    /// Reads at most `buffer.capacity` bytes into `buffer`; returns 0 at end of file.
    package static func read(_ fileDescriptor: FileDescriptor, into buffer: ScratchBuffer) throws(ReactorError) -> Int {
        try syscall("read") { unsafe Glibc.read(fileDescriptor.rawValue, buffer.storage.base, buffer.capacity) }
    }

    /// Writes every byte of `slice`, retrying short writes.
    package static func writeAll(_ fileDescriptor: FileDescriptor, _ slice: BufferSlice) throws(ReactorError) {
        var offset = 0
        while offset < slice.count {
            let written = try syscall("write") {
                unsafe Glibc.write(fileDescriptor.rawValue, slice.baseAddress + offset, slice.count - offset)
            }
            offset += written
        }
    }

    /// Every byte of the file at `path`, read until end of file. Unlike a read of the file's
    /// size, this gets all of a `/proc` table, whose size reads as 0 and which the kernel hands
    /// out a page per read.
    package static func readFile(_ path: String) throws(ReactorError) -> [UInt8] {
        let fd = try syscall("open", detail: path) { unsafe open(path, O_RDONLY | O_CLOEXEC) }
        defer { closeDescriptor(fd) }
        // Unbounded: `Int.max` bytes are never reached before memory runs out.
        return try readToEnd(fd, path: path, maximumBytes: .max) ?? []
    }

    /// Reads `fd` until end of file; nil as soon as more than `maximumBytes` arrived.
    private static func readToEnd(_ fd: Int32, path: String, maximumBytes: Int, expecting expected: Int = 0)
        throws(ReactorError) -> [UInt8]?
    {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(expected)
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = try unsafe chunk.withUnsafeMutableBytes { buffer in
                Result { () throws(ReactorError) in
                    try syscall("read", detail: path) { unsafe Glibc.read(fd, buffer.baseAddress, buffer.count) }
                }
            }.get()
            if count == 0 { return bytes }
            if count > maximumBytes - bytes.count { return nil }
            bytes += chunk[..<count]
        }
    }

    /// What ``readRegularFile(_:maximumBytes:)`` found at a path.
    package enum RegularFileContents: Equatable {
        /// Every byte of the file.
        case bytes([UInt8])
        /// The path names something else than a regular file (a FIFO, a device, a socket, a
        /// directory), which is not read: a FIFO would block, a device might never end.
        case notRegularFile
        /// The file holds more than the bytes allowed: its size, or, for a file that grew while
        /// it was read, at least the limit plus one.
        case tooLarge(bytes: Int)
    }

    /// Every byte of the regular file at `path`, read through one descriptor, when it holds at
    /// most `maximumBytes`. The open does not wait (`O_NONBLOCK`: a FIFO with no writer would
    /// block it) and the kind and size come from that descriptor (`fstat`), so the file checked
    /// is the file read. A file that grows past `maximumBytes` while it is read is `tooLarge`.
    package static func readRegularFile(_ path: String, maximumBytes: Int) throws(ReactorError) -> RegularFileContents {
        let fd = try syscall("open", detail: path) { unsafe open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) }
        defer { closeDescriptor(fd) }
        var info = stat()
        _ = try syscall("fstat", detail: path) { unsafe fstat(fd, &info) }
        guard info.st_mode & S_IFMT == S_IFREG else { return .notRegularFile }
        guard info.st_size <= maximumBytes else { return .tooLarge(bytes: Int(info.st_size)) }
        guard let bytes = try readToEnd(fd, path: path, maximumBytes: maximumBytes, expecting: Int(info.st_size))
        else { return .tooLarge(bytes: maximumBytes + 1) }
        return .bytes(bytes)
    }

    /// Writes every byte of `text`'s UTF-8, retrying short writes.
    package static func writeAll(_ fileDescriptor: FileDescriptor, _ text: String) throws(ReactorError) {
        var text = text
        let result = text.withUTF8 { bytes -> Result<Void, ReactorError> in
            var offset = 0
            while offset < bytes.count {
                do throws(ReactorError) {
                    offset += try syscall("write") {
                        unsafe Glibc.write(fileDescriptor.rawValue, bytes.baseAddress! + offset, bytes.count - offset)
                    }
                } catch {
                    return .failure(error)
                }
            }
            return .success(())
        }
        try result.get()
    }
}

/// A reusable buffer for blocking reads. Its contents are read as a ``BufferSlice`` copy-free
/// only until the next read: ``slice(count:)`` shares the memory.
package final class ScratchBuffer: Sendable {
    let storage: ByteStorage
    /// Bytes the buffer holds.
    package let capacity: Int

    package init(capacity: Int) {
        precondition(capacity > 0)
        self.storage = ByteStorage(heapCapacity: capacity)
        self.capacity = capacity
    }

    /// The first `count` bytes, sharing this buffer's memory (overwritten by the next read).
    package func slice(count: Int) -> BufferSlice {
        BufferSlice(storage: storage, offset: 0, count: count)
    }
}
