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
        guard let ringMemory = unsafe mmap(nil, ringBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            unsafe ringMemory != MAP_FAILED
        else { throw ReactorError.system("mmap buffer ring", errno) }
        guard
            let bufferMemory = unsafe mmap(
                nil, count * bufferBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            unsafe bufferMemory != MAP_FAILED
        else {
            unsafe munmap(ringMemory, ringBytes)
            throw ReactorError.system("mmap receive buffers", errno)
        }
        let bufferRing = unsafe ringMemory.assumingMemoryBound(to: io_uring_buf_ring.self)
        unsafe io_uring_buf_ring_init(bufferRing)
        var registration = io_uring_buf_reg()
        registration.ring_addr = UInt64(UInt(bitPattern: ringMemory))
        registration.ring_entries = UInt32(count)
        registration.bgid = groupID
        let result = unsafe io_uring_register_buf_ring(ring, &registration, 0)
        guard result == 0 else {
            unsafe munmap(ringMemory, ringBytes)
            unsafe munmap(bufferMemory, count * bufferBytes)
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
        unsafe munmap(ringMemory, ringBytes)
        unsafe munmap(bufferMemory, bufferCount * bufferBytes)
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
        addToRing(bufferID, offset: 0)
        unsafe io_uring_buf_ring_advance(ringMemory.assumingMemoryBound(to: io_uring_buf_ring.self), 1)
    }

    private func addToRing(_ bufferID: UInt16, offset: Int32) {
        unsafe io_uring_buf_ring_add(
            ringMemory.assumingMemoryBound(to: io_uring_buf_ring.self), address(of: bufferID),
            UInt32(bufferBytes), bufferID, mask, offset)
    }
}
