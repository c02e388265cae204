/// A bump allocator for small outbound byte runs (frame headers): one heap buffer, carved into
/// immutable ``BufferSlice``s, so writing many small pieces costs no allocation each.
///
/// Each `append` writes a region no slice has seen yet, then hands out a slice of it; handed-out
/// regions are never written again. The buffer is freed when the arena and all its slices are gone.
/// Not thread-safe: keep an arena inside one actor or on one reactor.
package final class ByteArena {
    private let storage: ByteStorage
    private var usedBytes = 0
    /// Total bytes the arena holds.
    package let capacity: Int

    package init(capacity: Int) {
        precondition(capacity > 0)
        storage = ByteStorage(heapCapacity: capacity)
        self.capacity = capacity
    }

    /// Bytes still free.
    package var remainingBytes: Int { capacity - usedBytes }

    /// Writes `count` bytes with `initializer` and returns them as a slice, or nil if fewer than
    /// `count` bytes are left (start a new arena then).
    package func append(count: Int, initializingWith initializer: (inout MutableSpan<UInt8>) -> Void) -> BufferSlice? {
        precondition(count >= 0)
        guard count <= remainingBytes else { return nil }
        let start = usedBytes
        let buffer = unsafe UnsafeMutableBufferPointer(
            start: (storage.base + start).assumingMemoryBound(to: UInt8.self), count: count)
        var span = unsafe MutableSpan(_unsafeElements: buffer)
        initializer(&span)
        usedBytes += count
        return BufferSlice(storage: storage, offset: start, count: count)
    }
}
