import Synchronization
import TetherReactor

/// One stream of a ``MuxSession``: an ordered, flow-controlled byte stream in each direction.
///
/// Reads return slices of the buffers the data arrived in (no copy); each read gives the window
/// back to the peer, so a reader that stops reading stops the peer once its window is used —
/// buffered bytes never exceed the window granted. Writes suspend while the peer's window is
/// exhausted and resume on its window update. Dropping the handle resets a stream still open.
public final class MuxStream: Sendable {
    /// The yamux stream ID (odd: opened by the client; even: by the server).
    public let id: UInt32
    /// The session the stream belongs to.
    public let session: MuxSession
    /// Set by ``reset()``: the session forgets a reset stream, and a later read must not mistake
    /// that for the peer's end of stream.
    private let wasReset = Atomic<Bool>(false)

    init(id: UInt32, session: MuxSession) {
        self.id = id
        self.session = session
    }

    deinit {
        session.enqueueRelease(streamID: id)
    }

    // Synchronous fast paths: on the session's reactor thread, `runIsolated` (an `assumeIsolated`
    // that allocates nothing) runs the step without an actor hop; it is only available from
    // synchronous code, hence these wrappers.

    private func writeNow(_ slices: [BufferSlice], finishing: Bool) -> Bool {
        guard session.reactor.isCurrentThread else { return false }
        return session.reactor.runIsolated(session, (slices, id, finishing)) { session, write in
            session.writeNow(write.0, streamID: write.1, finishing: write.2)
        }
    }

    /// What a reader finds now (see `MuxSession.readStep`). Reactor thread only.
    private func readStepNow(woken: Bool) -> Result<ReadStep, MuxError> {
        session.reactor.runIsolated(session, (id, woken)) { session, look in
            Result { () throws(MuxError) in try session.readStep(streamID: look.0, woken: look.1) }
        }
    }

    /// Parks `continuation` on the stream (or resumes it at once; see `MuxSession.parkReader`).
    private func parkNow(_ continuation: CheckedContinuation<Void, Never>, as waiter: MuxSession.Waiter) {
        session.reactor.runIsolated(session, (continuation, id, waiter)) { session, park in
            session.park(park.0, streamID: park.1, as: park.2)
        }
    }

    /// nil: not on the session thread; .some(nil): closed; .some(error): failed.
    private func closeWriteNow() -> MuxError?? {
        guard session.reactor.isCurrentThread else { return nil }
        return session.reactor.runIsolated(session, id) { session, id -> MuxError? in
            do throws(MuxError) {
                try session.closeWrite(streamID: id)
                return nil
            } catch {
                return error
            }
        }
    }

    /// The next received bytes, or nil once the peer closed its side (FIN) and all was read.
    ///
    /// - Throws: ``MuxError`` — `streamReset` when the peer reset the stream, the session's
    ///   failure (e.g. `connectionClosed`), `streamClosed` after ``reset()``, `cancelled` when the
    ///   task is cancelled while waiting (the stream is unchanged).
    public func read() async throws(MuxError) -> BufferSlice? {
        if wasReset.load(ordering: .acquiring) { throw MuxError(.streamClosed, streamID: id) }
        var woken = false
        // On the reactor thread (a task preferring the reactor), look and park without entering
        // the actor: the wake-up then resumes this task directly — one job, where waiting inside
        // the actor costs up to three (hop in, resume there, hop back out).
        while session.reactor.isCurrentThread {
            switch try readStepNow(woken: woken).get() {
            case .slice(let slice): return slice
            case .end: return nil
            case .wait:
                try await waitOnReactor(as: .reader)
                woken = true
            }
        }
        return try await session.read(streamID: id, woken: woken)
    }

    /// Parks this task as the stream's reader or a writer until the stream wakes it, or until the
    /// task is cancelled (then throws `cancelled`, the stream unchanged). Reactor thread only.
    private func waitOnReactor(as waiter: MuxSession.Waiter) async throws(MuxError) {
        if Task.isCancelled { throw MuxError(.cancelled, streamID: id) }
        let session = self.session
        let id = self.id
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in self.parkNow(continuation, as: waiter) }
        } onCancel: {
            session.wakeParkedSoon(streamID: id)
        }
        if Task.isCancelled { throw MuxError(.cancelled, streamID: id) }
    }

    /// Writes `slices` in order. Returns once every byte is queued for the socket; suspends while
    /// the peer's window is exhausted. Cancelling the task while it waits throws `cancelled`;
    /// what was queued before stays queued.
    public func write(_ slices: [BufferSlice]) async throws(MuxError) {
        try await write(slices, finishing: false)
    }

    /// Writes `slice`.
    public func write(_ slice: BufferSlice) async throws(MuxError) {
        try await write([slice], finishing: false)
    }

    /// Writes `slices` and closes the write side with the last frame (FIN rides on the data).
    public func writeAndClose(_ slices: [BufferSlice]) async throws(MuxError) {
        try await write(slices, finishing: true)
    }

    private func write(_ slices: [BufferSlice], finishing: Bool) async throws(MuxError) {
        if writeNow(slices, finishing: finishing) { return }
        try await session.write(slices, streamID: id, finishing: finishing)
    }

    /// Writes a copy of `bytes` (counted in ``MuxCounters/bytesCopied``); prefer ``write(_:)-([BufferSlice])``.
    public func write(copying bytes: [UInt8]) async throws(MuxError) {
        await session.countCopied(bytes.count)
        try await session.write([BufferSlice(copying: bytes)], streamID: id, finishing: false)
    }

    /// Half-closes: sends FIN. Reading continues until the peer's FIN.
    public func closeWrite() async throws(MuxError) {
        if let result = closeWriteNow() {
            if let failure = result { throw failure }
            return
        }
        try await session.closeWrite(streamID: id)
    }

    /// Closes both directions, like closing a TCP socket: FIN if the write side is still open,
    /// then, if the peer has not finished sending, RST so that it stops; unread bytes are dropped.
    /// Later reads return nil and writes fail with `streamClosed`.
    public func close() async {
        try? await closeWrite()
        await session.release(streamID: id)
    }

    /// Resets the stream (RST): both directions end now, unread bytes are dropped.
    public func reset() async {
        wasReset.store(true, ordering: .releasing)
        await session.reset(streamID: id)
    }

    /// Calls `handler` once, on the session's reactor thread, when the stream fails: reset by the
    /// peer (`streamReset`), reset locally (`streamClosed`) or the session's failure. Called at
    /// once if the stream has already failed; never called for a stream that ends normally.
    ///
    /// Lets a server notice a cancelled call (the caller's RST) while its handler is busy and
    /// not reading, without a task waiting per stream.
    public func onFailure(_ handler: @escaping @Sendable (MuxError) -> Void) async {
        if setFailureHandlerNow(handler) { return }
        await session.setFailureHandler(handler, streamID: id)
    }

    private func setFailureHandlerNow(_ handler: @escaping @Sendable (MuxError) -> Void) -> Bool {
        guard session.reactor.isCurrentThread else { return false }
        session.reactor.runIsolated(session, (handler, id)) { session, failure in
            session.setFailureHandler(failure.0, streamID: failure.1)
        }
        return true
    }

    /// The received chunks as an async sequence, ending at the peer's FIN.
    public var chunks: AsyncThrowingStream<BufferSlice, any Error> {
        AsyncThrowingStream(unfolding: { try await self.read() })
    }
}

extension MuxSession {
    func countCopied(_ byteCount: Int) { counters.bytesCopied += UInt64(byteCount) }
}
