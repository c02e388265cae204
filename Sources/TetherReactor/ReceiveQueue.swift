import CLibUring
import TetherCollections

/// The receive side of one socket or pipe: a receive operation fed by the provided-buffer ring,
/// the slices it produced that nobody has read yet, and at most one waiting reader.
///
/// Sockets use one multishot recv that keeps delivering until it ends; pipes (no multishot recv)
/// use one buffer-selecting read at a time. Either way the handle reads ahead until it holds
/// `maxQueuedBuffersPerHandle` undelivered buffers, then stops asking the kernel (for a multishot,
/// by cancelling it) until the reader catches up. The socket buffer then fills and the peer's
/// sends block: backpressure, with no byte lost or reordered, because an ended or cancelled
/// receive leaves unread data in the kernel.
///
/// When the ring is empty (`ENOBUFS`: other handles' readers hold every buffer), the queue does not
/// wait for buffers to come back: it reads into memory of its own, one receive at a time and only
/// once its reader has caught up, until the ring has buffers again. Waiting would deadlock a reader
/// whose progress is what releases the buffers (a mux session must read the window update that
/// lets its writers send, and drop, the slices they hold).
@safe final class ReceiveQueue: ParkingQueue, MultishotQueue, ReactorCallback, @unsafe @unchecked Sendable {
    // SAFETY: created and used on the reactor thread only; captured by cancellation handlers that
    // run elsewhere but only hand it back to the reactor thread (`onLoop`).
    enum Mode { case socket, pipe }

    unowned(unsafe) let loop: EventLoop
    let fd: Int32
    let mode: Mode
    private var chunks = FIFO<BufferSlice>()
    private var endOfStream = false
    private var failure: (any Error)?
    /// The receive in the kernel: a multishot recv, a buffer-selecting read, or a fallback receive.
    var multishot = MultishotRecord()
    private var starved = false
    /// Memory of an in-flight fallback receive; the kernel writes into it until the completion.
    private var fallbackStorage: ByteStorage?
    /// A fallback buffer whose bytes were copied out (short read), ready for the next one.
    private var spareFallbackStorage: ByteStorage?
    /// A poll for input is armed instead of the receive: the last receive completed with `EAGAIN`
    /// (a descriptor with `O_NONBLOCK`, on a kernel that then returns rather than waits).
    private var awaitingInput = false
    var waiter = ParkedWaiter<BufferSlice?>()
    /// Told of every chunk, the end and a failure, instead of a parked reader (see
    /// `StreamSocket.startReceiving`); let go once told of the end. Chunks are queued only while
    /// earlier ones await delivery.
    private var handler: (any ReceiveHandler)?
    private(set) var closed = false
    /// Set by ``pause()``: nothing is asked of the kernel and nothing is handed to the handler
    /// until ``resume()``.
    private(set) var paused = false

    init(loop: EventLoop, fd: Int32, mode: Mode) {
        unsafe self.loop = loop
        self.fd = fd
        self.mode = mode
    }

    /// Internal state in one line, for diagnosing a stuck receive.
    var diagnostics: String {
        "armed=\(multishot.isArmed) awaitingInput=\(awaitingInput) cancelRequested=\(multishot.cancelRequested) "
            + "starved=\(starved) "
            + "queued=\(chunks.count) eos=\(endOfStream) closed=\(closed) paused=\(paused) waiting=\(waiter.isParked) "
            + "failure=\(failure.map { "\($0)" } ?? "none")"
    }

    /// The next received bytes, or nil at end of stream. Reactor thread only.
    ///
    /// Cancelling the calling task ends the wait with `CancellationError`; the bytes that arrive
    /// later stay queued for the next call.
    nonisolated(nonsending) func receive() async throws -> BufferSlice? {
        try await next()
    }

    var operationName: String { mode == .socket ? "recv" : "read" }

    var reactor: Reactor { unsafe loop.reactor }

    func keepFilling() { keepReading() }

    /// What a receive can return without waiting: a queued chunk, end of stream (`.some(nil)`), or
    /// the failure; nil when the caller must wait.
    func takeReady() throws -> BufferSlice?? {
        if handler != nil { throw ReactorError(.concurrentReceive, operation: operationName) }
        if let chunk = chunks.popFirst() {
            keepReading()
            return .some(chunk)
        }
        if let failure { throw failure }
        if endOfStream || closed { return .some(nil) }
        return nil
    }

    /// Arms a receive if the reader may want more and none is in flight; cancels a multishot
    /// that has read far enough ahead.
    private func keepReading() {
        guard !closed, !endOfStream, failure == nil, !paused else { return }
        if starved {
            if !multishot.isArmed, chunks.isEmpty { armFallbackReceive() }
            return
        }
        if unsafe chunks.count >= loop.configuration.maxQueuedBuffersPerHandle {
            // A pipe's read is a single one: it ends by itself.
            if mode == .socket { unsafe multishot.cancel(loop: loop) }
            return
        }
        guard !multishot.isArmed else { return }
        let operation: Operation =
            switch mode {
            case .socket: unsafe .receiveMultishot(fd: fd, group: loop.pool.groupID)
            case .pipe: unsafe .readSelected(fd: fd, group: loop.pool.groupID, maxBytes: UInt32(loop.pool.bufferBytes))
            }
        arm(operation)
    }

    /// Starts `operation` for this queue; fails the queue when the loop cannot take it.
    @discardableResult
    private func arm(_ operation: Operation) -> Bool {
        guard unsafe multishot.arm(operation, target: .receiver(self), loop: loop) else {
            unsafe fail(ReactorError(loop.stopping ? .shutDown : .tooManyOperations, operation: operation.name))
            return false
        }
        return true
    }

    /// A fallback receive's bytes as a slice. A short read gets memory of its exact size and the
    /// big buffer is kept for the next fallback: a slice pins all of its storage, and readers may
    /// hold many small ones (a window's worth of 30-byte frames would pin 64 KiB each).
    private func ownMemorySlice(_ storage: ByteStorage, count: Int) -> BufferSlice {
        let whole = BufferSlice(storage: storage, offset: 0, count: count)
        guard count * 4 < storage.capacity else { return whole }
        spareFallbackStorage = storage
        return whole.copied()
    }

    /// One receive into heap memory, used while the provided-buffer ring is empty.
    private func armFallbackReceive() {
        let storage = unsafe spareFallbackStorage ?? ByteStorage(heapCapacity: loop.pool.bufferBytes)
        spareFallbackStorage = nil
        guard arm(.receiveInto(fd: fd, storage: storage, socket: mode == .socket)) else { return }
        fallbackStorage = storage
        unsafe loop.counters.fallbackReceives += 1
    }

    /// One completion of this queue's receive operation.
    func complete(_ completion: Completion) {
        let final = multishot.completed(completion)
        if awaitingInput {
            awaitingInput = false
            completedPoll(completion)
            return
        }
        let ownMemory = final ? fallbackStorage : nil
        if final { fallbackStorage = nil }
        let context = unsafe CompletionContext(shuttingDown: loop.stopping, handleClosed: closed)
        if completion.result <= 0, let bufferID = completion.bufferID {
            // A read at end of stream consumes the buffer it picked; the ring gets it back.
            unsafe loop.putBackUnfilled(bufferID)
        }
        switch completion.decodeReceive(operationName, context) {
        case .success(.bytes(let count, let bufferID)):
            let slice: BufferSlice
            if let bufferID {
                slice = unsafe BufferSlice(storage: loop.pool.lend(bufferID), offset: 0, count: count)
            } else if let ownMemory {
                slice = ownMemorySlice(ownMemory, count: count)
            } else {
                preconditionFailure("recv completion without a buffer")
            }
            // After close() the bytes have no reader: dropping the slice returns its buffer now.
            if !closed {
                if completion.pieceBytes > 0 {
                    deliverInPieces(slice, pieceBytes: completion.pieceBytes)
                } else {
                    deliver(slice)
                }
            }
        case .success(.endOfStream):
            endOfStream = true
            resumeWaiter(.success(nil))
        case .success(.bufferRingEmpty):
            // Nothing was consumed from the socket. Read into own memory until a buffer comes back
            // (`buffersAvailable`), then return to the ring.
            unsafe loop.counters.bufferRingExhaustions += 1
            if !starved {
                starved = true
                unsafe loop.receiverStarved(self)
            }
        case .failure(.retry) where final && completion.result == -EAGAIN:
            // Submitted again at once, the receive would come back at once, every loop turn, for
            // as long as nothing arrives: wait for input first.
            if waitForInput() { return }
        case .failure(.retry), .failure(.cancelled):
            // Armed again below if the reader still wants bytes.
            break
        case .failure(.failed(let error)):
            fail(error)
        }
        if final, wantsMore { keepReading() }
    }

    /// The reader may want more: someone waits, or the read-ahead is below half its limit.
    private var wantsMore: Bool {
        unsafe handler != nil || waiter.isParked || chunks.count < loop.configuration.maxQueuedBuffersPerHandle / 2
    }

    /// Arms a poll for input in place of the receive; false (and nothing armed) when the queue
    /// wants no more bytes now, or the loop could not take it (the queue has failed then).
    private func waitForInput() -> Bool {
        guard !closed, !endOfStream, failure == nil, !paused else { return false }
        guard arm(.pollReadable(fd)) else { return true }
        awaitingInput = true
        return true
    }

    /// The poll for input ended (input came, or it was cancelled: a close, a pause): receive
    /// again if the reader still wants bytes.
    private func completedPoll(_ completion: Completion) {
        let context = unsafe CompletionContext(shuttingDown: loop.stopping, handleClosed: closed)
        if case .failure(.failed(let error)) = completion.decodePoll(operationName, context) {
            fail(error)
            return
        }
        if wantsMore { keepReading() }
    }

    /// Buffers are back in the ring after an `ENOBUFS`.
    func buffersAvailable() {
        starved = false
        if unsafe waiter.isParked || chunks.count < loop.configuration.maxQueuedBuffersPerHandle { keepReading() }
    }

    /// Ends the queue with `error`: the waiting reader and later calls get it (after queued bytes).
    func fail(_ error: any Error) {
        if failure == nil { failure = error }
        resumeWaiter(.failure(error))
    }

    private func resumeWaiter(_ result: Result<BufferSlice?, any Error>) {
        guard handler != nil else {
            waiter.resume(result)
            return
        }
        // The end goes to a handler from the loop (`reactorCallback`), after any queued chunks:
        // this may run inside a job (`close()`), where a handler must not be called.
        unsafe loop.callbacks.append(self)
    }

    /// Hands `slice` to the handler or the parked reader, or queues it.
    private func deliver(_ slice: BufferSlice) {
        if let handler {
            // Nothing follows the end: a fallback receive completing after a failure is dropped.
            guard !hasEnded else { return }
            if chunks.isEmpty, !paused {
                handler.received(.success(slice))
            } else {
                chunks.append(slice)
            }
        } else if !waiter.resume(.success(slice)) {
            chunks.append(slice)
        }
    }

    /// Hands `slice` on in pieces of at most `pieceBytes`, in order, as short receives would
    /// have (a fault injector's short receive).
    private func deliverInPieces(_ slice: BufferSlice, pieceBytes: Int) {
        var start = 0
        while start < slice.count {
            let end = min(slice.count, start + pieceBytes)
            deliver(slice.slice(start..<end))
            start = end
        }
    }

    /// The stream has ended for its reader: end of stream, a failure, or closed.
    private var hasEnded: Bool { endOfStream || failure != nil || closed }

    /// From now on every chunk, the end and a failure go to `handler`, on the reactor thread,
    /// from the loop (outside any job). Chunks received earlier go first.
    ///
    /// - Throws: `concurrentReceive` when a reader waits or a handler is already set.
    func setHandler(_ handler: any ReceiveHandler) throws {
        guard self.handler == nil, !waiter.isParked else {
            throw ReactorError(.concurrentReceive, operation: operationName)
        }
        self.handler = handler
        // Delivered from the loop, not inside the job that set the handler.
        unsafe loop.callbacks.append(self)
    }

    /// Delivers the chunks that arrived before the handler was set (or while it was paused), then
    /// the end (end of stream, failure or close) once; after the end the queue lets go of the
    /// handler. While paused, only a close is reported (its chunks were dropped); the rest waits
    /// for ``resume()``.
    func reactorCallback() {
        guard let handler else { return }
        if !closed {
            // The handler may pause from inside `received`: check before every chunk.
            while !paused, let chunk = chunks.popFirst() {
                handler.received(.success(chunk))
            }
            if paused { return }
        }
        let end: Result<BufferSlice?, any Error>? =
            if let failure { .failure(failure) } else if closed {
                .failure(ReactorError(.closed, operation: operationName))
            } else if endOfStream { .success(nil) } else { nil }
        guard let end else {
            keepReading()
            return
        }
        self.handler = nil
        handler.received(end)
    }

    /// Stops asking the kernel for data and stops handing chunks to the handler. Reactor thread
    /// only; idempotent; may be called from inside the handler.
    ///
    /// An armed receive is cancelled; chunks it still completes before the cancellation lands are
    /// queued, not lost. Everything not yet received stays in the kernel, so the socket buffers
    /// fill and the peer's sends block.
    func pause() {
        guard !paused else { return }
        paused = true
        unsafe multishot.cancel(loop: loop)
    }

    /// Undoes ``pause()``: the queued chunks (and an end that arrived meanwhile) go to the handler
    /// in order from the loop, never inside the caller, and the receive is armed again.
    /// Reactor thread only; idempotent.
    func resume() {
        guard paused else { return }
        paused = false
        if handler != nil {
            // `reactorCallback` delivers what is queued, then re-arms (or reports the end).
            unsafe loop.callbacks.append(self)
        } else {
            keepReading()
        }
    }

    /// Stops receiving: cancels the in-flight receive, drops queued bytes (their buffers return to
    /// the ring) and wakes a waiting reader with `closed`. The fd is the caller's to close once
    /// ``isArmed`` is false.
    func close() {
        closed = true
        chunks.removeAll()
        spareFallbackStorage = nil
        unsafe multishot.cancel(loop: loop, again: true)
        resumeWaiter(.failure(ReactorError(.closed, operation: operationName)))
    }
}
