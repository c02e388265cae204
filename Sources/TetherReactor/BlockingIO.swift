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
