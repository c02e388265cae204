/// Memory with a stable address that the kernel may read or write while an operation is in flight.
///
/// Either heap memory the user filled (outbound data), or one buffer of a reactor's provided-buffer
/// ring (received data). A ring buffer goes back to the ring when its storage is released, i.e.
/// when the last ``BufferSlice`` referring to it is gone; that may happen on any thread.
@safe final class ByteStorage: @unsafe @unchecked Sendable {
    // SAFETY: `base` is written only before the storage is shared (heap: by the initializer's
    // closure; ring buffer: by the kernel before the completion that created this object), then
    // only read. Sharing immutable bytes across threads is safe.
    let base: UnsafeMutableRawPointer
    let capacity: Int
    private let pool: ProvidedBufferPool?
    private let bufferID: UInt16

    /// Heap storage of `capacity` bytes, zeroed.
    init(heapCapacity capacity: Int) {
        precondition(capacity >= 0)
        let base = UnsafeMutableRawPointer.allocate(byteCount: max(capacity, 1), alignment: 16)
        unsafe base.initializeMemory(as: UInt8.self, repeating: 0, count: max(capacity, 1))
        unsafe self.base = base
        self.capacity = capacity
        self.pool = nil
        self.bufferID = 0
    }

    /// A lease on provided buffer `bufferID` of `pool`, which the kernel just filled.
    init(lendingBuffer bufferID: UInt16, of pool: ProvidedBufferPool) {
        unsafe self.base = pool.address(of: bufferID)
        self.capacity = pool.bufferBytes
        self.pool = pool
        self.bufferID = bufferID
    }

    /// True for a lent provided buffer (it goes back to the kernel's ring when released).
    var isReceiveBuffer: Bool { pool != nil }

    deinit {
        if let pool {
            pool.giveBack(bufferID)
        } else {
            unsafe base.deallocate()
        }
    }
}
