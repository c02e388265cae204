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

    /// The next received bytes, or nil once the peer closed its side (FIN) and all was read.
    ///
    /// - Throws: ``MuxError`` — `streamReset` when the peer reset the stream, the session's
    ///   failure (e.g. `connectionClosed`), `streamClosed` after ``reset()``, `cancelled` when the
    ///   task is cancelled while waiting (the stream is unchanged).
    public func read() async throws(MuxError) -> BufferSlice? {
        if wasReset.load(ordering: .acquiring) { throw MuxError(.streamClosed, streamID: id) }
        guard case .slice(let slice) = try await session.perform(.read(streamID: id, woken: false)) else {
            preconditionFailure("a read produced no slice")
        }
        return slice
    }

    /// Writes `slices` in order. Returns once every byte is queued for the socket, not when the
    /// connection took it; suspends while the peer's window is exhausted, and while the session
    /// already holds ``MuxConfiguration/maxOutboundDataBytes`` of data the connection has not
    /// taken (a peer that stops reading stalls its writers rather than growing the queue).
    /// Cancelling the task while it waits throws `cancelled`; what was queued before stays queued.
    ///
    /// - Throws: ``MuxError`` — `streamReset` when the peer reset the stream, `streamClosed` after
    ///   the write side was closed or the stream reset, the session's failure (e.g.
    ///   `connectionClosed`, `writeTimeout`), `cancelled`.
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
        let operation = MuxOperation.write(
            streamID: id, slices: slices, cursor: PayloadCursor(slices), finishing: finishing)
        _ = try await session.perform(operation)
    }

    /// Writes a copy of `bytes` (counted in ``MuxCounters/bytesCopied``); prefer ``write(_:)-([BufferSlice])``.
    public func write(copying bytes: [UInt8]) async throws(MuxError) {
        await session.countCopied(bytes.count)
        try await write([BufferSlice(copying: bytes)], finishing: false)
    }

    /// Half-closes: sends FIN. Reading continues until the peer's FIN.
    public func closeWrite() async throws(MuxError) {
        _ = try await session.perform(.closeWrite(streamID: id))
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
