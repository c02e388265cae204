import CLibUring
import Glibc
import Synchronization

/// The provided-buffer ring: fixed-size buffers the kernel picks from for multishot recv and
/// buffer-selecting reads, so no receive needs a buffer of its own before data arrives.
///
/// Buffers are lent to users as ``ByteStorage`` and come back through ``giveBack(_:)`` when the last
/// slice is released. Returning is cheap on the reactor thread (one ring entry); from another thread
/// the buffer ID is posted to the reactor, which puts it back and re-arms receives that ran dry.
@safe final class ProvidedBufferPool: @unsafe @unchecked Sendable {
    // SAFETY: the ring memory and `lentCount` are touched only on the reactor thread; `giveBack`
    // from other threads goes through the reactor's locked remote queue. The buffer memory stays
    // mapped until this object dies, which is after every ByteStorage that points into it.
    let groupID: UInt16
    let bufferCount: Int
    let bufferBytes: Int
    private let ringMemory: UnsafeMutableRawPointer
    private let ringBytes: Int
    private let bufferMemory: UnsafeMutableRawPointer
    private let mask: Int32
    private(set) var lentCount = 0
    /// Set when the reactor stops; buffers released afterwards are simply dropped.
    let retired = Atomic<Bool>(false)
    unowned(unsafe) let reactor: Reactor

    init(ring: UnsafeMutablePointer<io_uring>, groupID: UInt16, count: Int, bufferBytes: Int, reactor: Reactor)
        throws(ReactorError)
    {
        guard count > 0, count <= 32768, count & (count - 1) == 0, bufferBytes > 0, bufferBytes <= 1 << 30 else {
            throw ReactorError(
                .invalidArgument, operation: "provided buffers",
                detail: "receiveBufferCount must be a power of two ≤ 32768 and receiveBufferBytes positive")
        }
        let pageBytes = Int(sysconf(Int32(_SC_PAGESIZE)))
        let ringBytes = (count * MemoryLayout<io_uring_buf>.stride + pageBytes - 1) / pageBytes * pageBytes
        // liburing 2.3 has no io_uring_setup_buf_ring: map a page-aligned region and register it.
        // Both mappings are this object's alone and unmapped once, in deinit or on failure here.
        let ringMemory = try unsafe mapAnonymousMemory("mmap buffer ring", byteCount: ringBytes)
        let bufferMemory: UnsafeMutableRawPointer
        do throws(ReactorError) {
            unsafe bufferMemory = try unsafe mapAnonymousMemory("mmap receive buffers", byteCount: count * bufferBytes)
        } catch {
            unsafe unmap(ringMemory, byteCount: ringBytes)
            throw error
        }
        let bufferRing = unsafe ringMemory.assumingMemoryBound(to: io_uring_buf_ring.self)
        unsafe io_uring_buf_ring_init(bufferRing)
        var registration = io_uring_buf_reg()
        registration.ring_addr = UInt64(UInt(bitPattern: ringMemory))
        registration.ring_entries = UInt32(count)
        registration.bgid = groupID
        let result = unsafe io_uring_register_buf_ring(ring, &registration, 0)
        guard result == 0 else {
            unsafe unmap(ringMemory, byteCount: ringBytes)
            unsafe unmap(bufferMemory, byteCount: count * bufferBytes)
            throw ReactorError.system("io_uring_register_buf_ring", -result)
        }
        unsafe self.ringMemory = ringMemory
        self.ringBytes = ringBytes
        unsafe self.bufferMemory = bufferMemory
        self.groupID = groupID
        self.bufferCount = count
        self.bufferBytes = bufferBytes
        self.mask = Int32(io_uring_buf_ring_mask(UInt32(count)))
        unsafe self.reactor = reactor
        for id in 0..<count { addToRing(UInt16(id), offset: Int32(id)) }
        unsafe io_uring_buf_ring_advance(bufferRing, Int32(count))
    }

    deinit {
        unsafe unmap(ringMemory, byteCount: ringBytes)
        unsafe unmap(bufferMemory, byteCount: bufferCount * bufferBytes)
    }

    func address(of bufferID: UInt16) -> UnsafeMutableRawPointer {
        unsafe bufferMemory + Int(bufferID) * bufferBytes
    }

    /// Records that the kernel filled `bufferID` and a ``ByteStorage`` now owns it. Reactor thread only.
    func lend(_ bufferID: UInt16) -> ByteStorage {
        lentCount += 1
        return ByteStorage(lendingBuffer: bufferID, of: self)
    }

    /// Called when the last slice of a lent buffer is released, on whatever thread that happens.
    func giveBack(_ bufferID: UInt16) {
        if retired.load(ordering: .acquiring) { return }
        unsafe reactor.bufferReleased(bufferID, pool: self)
    }

    /// Puts `bufferID` back into the kernel's ring. Reactor thread only.
    func recycle(_ bufferID: UInt16) {
        lentCount -= 1
        putBack(bufferID)
    }

    /// Puts back `bufferID`, which the kernel took for a completion that holds no bytes: a
    /// buffer-selecting read that returns 0 at end of stream still consumes the buffer it picked
    /// and names it in its CQE. Never lent, so ``lentCount`` stays. Reactor thread only.
    func putBack(_ bufferID: UInt16) {
        addToRing(bufferID, offset: 0)
        unsafe io_uring_buf_ring_advance(ringMemory.assumingMemoryBound(to: io_uring_buf_ring.self), 1)
    }

    private func addToRing(_ bufferID: UInt16, offset: Int32) {
        unsafe io_uring_buf_ring_add(
            ringMemory.assumingMemoryBound(to: io_uring_buf_ring.self), address(of: bufferID),
            UInt32(bufferBytes), bufferID, mask, offset)
    }
}
