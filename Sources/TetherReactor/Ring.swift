import CLibUring

/// The one io_uring instance of a reactor: setup, SQE acquisition, submit/wait and CQE reaping.
///
/// Everything liburing-specific that is not an operation lives here, like SwiftNIO's one selector
/// file per backend. Confined to the reactor thread: a `SINGLE_ISSUER` ring must be created and
/// driven by the thread that submits (another thread gets `EEXIST`).
@safe struct Ring: ~Copyable {
    /// `struct io_uring` must stay at one address for the ring's life: liburing keeps pointers into it.
    private let ring: UnsafeMutablePointer<io_uring>
    private let cqeBatch: UnsafeMutablePointer<UnsafeMutablePointer<io_uring_cqe>?>
    private let cqeBatchCapacity: Int
    let entries: UInt32

    /// Creates the ring on the calling thread with `SINGLE_ISSUER | DEFER_TASKRUN`, so completions
    /// are only processed when this thread asks for them: no task-work interrupts mid-loop.
    init(entries: UInt32) throws(ReactorError) {
        let ring = UnsafeMutablePointer<io_uring>.allocate(capacity: 1)
        unsafe ring.initialize(to: io_uring())
        var params = io_uring_params()
        params.flags =
            UInt32(IORING_SETUP_SINGLE_ISSUER) | UInt32(IORING_SETUP_DEFER_TASKRUN)
            | UInt32(IORING_SETUP_SUBMIT_ALL) | UInt32(IORING_SETUP_CQSIZE)
        params.cq_entries = entries * 4
        let result = unsafe io_uring_queue_init_params(entries, ring, &params)
        guard result == 0 else {
            unsafe ring.deallocate()
            throw ReactorError.ringSetupDiagnosis(errno: -result, entries: entries)
        }
        // Registering the ring fd lets io_uring_enter skip the fd table lookup on every call.
        _ = unsafe io_uring_register_ring_fd(ring)
        unsafe self.ring = unsafe ring
        self.entries = entries
        self.cqeBatchCapacity = Int(entries) * 4
        unsafe self.cqeBatch = .allocate(capacity: Int(entries) * 4)
    }

    private var exited = false

    /// Closes the ring now (its fd, its registered buffer ring). Nothing may be in flight.
    mutating func exit() {
        guard !exited else { return }
        exited = true
        unsafe io_uring_queue_exit(ring)
    }

    deinit {
        if !exited { unsafe io_uring_queue_exit(ring) }
        unsafe ring.deallocate()
        unsafe cqeBatch.deallocate()
    }

    /// Raw pointer for the buffer-ring registration calls.
    var pointer: UnsafeMutablePointer<io_uring> { unsafe ring }

    /// Returns a zeroed SQE, flushing the submission queue to the kernel first if it is full.
    /// `onFull` runs when that happens, for the counter.
    func nextSubmission(onFull: () -> Void) -> UnsafeMutablePointer<io_uring_sqe> {
        while true {
            if let sqe = unsafe io_uring_get_sqe(ring) { return unsafe sqe }
            onFull()
            // Submit only; completions stay queued in the CQ (sized 4x) until the loop reaps.
            _ = unsafe io_uring_submit(ring)
        }
    }

    /// Number of prepared SQEs not yet handed to the kernel.
    var pendingSubmissions: UInt32 { unsafe io_uring_sq_ready(ring) }

    /// Submits what is prepared and, if `wait`, blocks until at least one completion is ready.
    /// Returns the number submitted, or a negative errno (`EINTR`, `ETIME` are the caller's to retry).
    func submit(wait: Bool) -> Int32 {
        if wait {
            return unsafe io_uring_submit_and_wait(ring, 1)
        }
        // With DEFER_TASKRUN completions are only posted when we enter with GETEVENTS.
        return unsafe io_uring_submit_and_get_events(ring)
    }

    /// Hands each ready completion to `body` and marks them all seen. Returns how many there were.
    func reap(_ body: (UInt64, Int32, UInt32) -> Void) -> Int {
        var total = 0
        while true {
            let count = Int(unsafe io_uring_peek_batch_cqe(ring, cqeBatch, UInt32(cqeBatchCapacity)))
            if count == 0 { return total }
            for index in 0..<count {
                guard let cqe = unsafe cqeBatch[index] else { continue }
                unsafe body(cqe.pointee.user_data, cqe.pointee.res, cqe.pointee.flags)
            }
            unsafe io_uring_cq_advance(ring, UInt32(count))
            total += count
        }
    }
}
