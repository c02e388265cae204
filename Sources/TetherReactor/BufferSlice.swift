/// A reference-counted, immutable view of bytes: received data or data to send.
///
/// Received bytes arrive as slices of the reactor's provided buffers, without a copy; slicing a
/// slice shares the buffer. The buffer returns to the kernel's ring when the last slice referring
/// to it is released, so holding slices holds ring buffers: a reader that keeps everything it
/// receives eventually stops the flow (that is the backpressure), it never loses bytes.
public struct BufferSlice: Sendable {
    let storage: ByteStorage
    let offset: Int
    /// Number of bytes in the slice.
    public let count: Int

    init(storage: ByteStorage, offset: Int, count: Int) {
        precondition(offset >= 0 && count >= 0 && offset + count <= storage.capacity)
        self.storage = storage
        self.offset = offset
        self.count = count
    }

    /// A slice holding a copy of `bytes`.
    public init(copying bytes: some Collection<UInt8>) {
        let count = bytes.count
        let storage = ByteStorage(heapCapacity: count)
        let copied: Void? = bytes.withContiguousStorageIfAvailable { source in
            if let sourceBase = source.baseAddress {
                unsafe storage.base.copyMemory(from: sourceBase, byteCount: count)
            }
        }
        if copied == nil {
            var index = 0
            for byte in bytes {
                unsafe storage.base.storeBytes(of: byte, toByteOffset: index, as: UInt8.self)
                index += 1
            }
        }
        self.init(storage: storage, offset: 0, count: count)
    }

    /// A new slice of `count` bytes, written once by `initializer`, immutable afterwards.
    public init(count: Int, initializingWith initializer: (inout MutableSpan<UInt8>) throws -> Void) rethrows {
        precondition(count >= 0, "negative byte count")
        let storage = ByteStorage(heapCapacity: count)
        let buffer = unsafe UnsafeMutableBufferPointer(
            start: storage.base.assumingMemoryBound(to: UInt8.self), count: count)
        var span = unsafe MutableSpan(_unsafeElements: buffer)
        try initializer(&span)
        self.init(storage: storage, offset: 0, count: count)
    }

    /// True when the slice has no bytes.
    public var isEmpty: Bool { count == 0 }

    /// The byte at `index` (0-based within the slice).
    public subscript(index: Int) -> UInt8 {
        precondition(index >= 0 && index < count, "index \(index) out of range 0..<\(count)")
        return unsafe storage.base.load(fromByteOffset: offset + index, as: UInt8.self)
    }

    /// The bytes in `range`, sharing this slice's storage.
    public func slice(_ range: Range<Int>) -> BufferSlice {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "range \(range) out of 0..<\(count)")
        return BufferSlice(storage: storage, offset: offset + range.lowerBound, count: range.count)
    }

    /// Calls `body` with the bytes; the span must not escape (it borrows the storage).
    public func withSpan<Result, Failure: Error>(
        _ body: (Span<UInt8>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let buffer = unsafe UnsafeBufferPointer(
            start: (storage.base + offset).assumingMemoryBound(to: UInt8.self), count: count)
        return try unsafe body(Span(_unsafeElements: buffer))
    }

    /// True when the slice keeps one of the reactor's receive buffers out of the kernel's ring.
    /// Holding many such slices for long starves every receive on the reactor; ``copied()`` them.
    public var holdsReceiveBuffer: Bool { storage.isReceiveBuffer }

    /// The same bytes in memory of their own (one `memcpy`), releasing any receive buffer.
    public func copied() -> BufferSlice {
        let copy = ByteStorage(heapCapacity: count)
        unsafe copy.base.copyMemory(from: storage.base + offset, byteCount: count)
        return BufferSlice(storage: copy, offset: 0, count: count)
    }

    /// A copy of the bytes as an array (for tests and small control messages, not the data path).
    public var bytes: [UInt8] {
        unsafe Array(UnsafeRawBufferPointer(start: storage.base + offset, count: count))
    }

    /// Start of the bytes, for building iovecs; valid while `storage` is alive.
    var baseAddress: UnsafeMutableRawPointer { unsafe storage.base + offset }
}
