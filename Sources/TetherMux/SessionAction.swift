/// Something the owner of a ``SessionState`` must do or learn about, in the order produced.
///
/// Control frames (``sendControl(_:)``) are header-only and must be written **before** any queued
/// Data: a ping reply or window update stuck behind megabytes of bulk data is what makes yamux
/// keepalives time out under load. Data frames never appear here; they come from
/// ``SessionState/reserveSend(streamID:wantedBytes:finishing:)`` so that the caller's payload
/// buffers never pass through the state machine.
public enum SessionAction<Chunk: FrameByteChunk>: Sendable {
    /// Write this header-only frame (WindowUpdate, Ping, GoAway) ahead of any queued Data.
    case sendControl(FrameHeader)
    /// Payload for a stream, in order. The slices share the received buffers.
    case deliver(streamID: UInt32, payload: [Chunk])
    /// The peer opened a stream; it is in the accept queue (``SessionState/acceptStream(nowNanoseconds:)``).
    case streamOpened(streamID: UInt32)
    /// The peer ACKed a stream this side opened.
    case streamAcknowledged(streamID: UInt32)
    /// The peer closed its write half (FIN): end of data once delivered payload is read.
    case streamFinished(streamID: UInt32)
    /// Both halves are closed; the stream is gone from the session.
    case streamClosed(streamID: UInt32)
    /// The peer reset the stream (or refused it while it waited for an ACK); the stream is gone.
    case streamReset(streamID: UInt32)
    /// A writer that was told to wait may send again.
    case streamWritable(streamID: UInt32)
    /// An ``SessionState/openStream(nowNanoseconds:)`` that had to wait may be retried.
    case openSlotAvailable
    /// The peer sent GoAway(normal): no new streams may be opened; existing streams continue.
    case remoteGoAway
    /// A reply to a ping from ``SessionState/ping(nowNanoseconds:)`` arrived.
    case pingAnswered(opaque: UInt32, rttNanoseconds: UInt64)
    /// A ping from ``SessionState/ping(nowNanoseconds:)`` got no reply within the keepalive timeout.
    case pingTimedOut(opaque: UInt32)
    /// The session is over. Any preceding ``sendControl(_:)`` (a GoAway) should still be written,
    /// then the connection closed; every stream fails with this error.
    case sessionFailed(MuxError)
}

/// The outcome of ``SessionState/openStream(nowNanoseconds:)``.
public enum OpenStreamResult: Hashable, Sendable {
    /// The stream exists; a WindowUpdate|SYN is queued as a control action.
    case opened(streamID: UInt32)
    /// `maxUnacknowledgedStreams` streams wait for an ACK: retry after ``SessionAction/openSlotAvailable``.
    case mustWait
    /// No stream can be opened: remote GoAway, stream IDs exhausted, too many streams, or a failed session.
    case refused(MuxError)
}

/// The outcome of ``SessionState/reserveSend(streamID:wantedBytes:finishing:)``.
public enum SendReservation: Hashable, Sendable {
    /// Write this Data header followed by exactly `header.length` bytes of the payload.
    case send(FrameHeader)
    /// The peer's window is exhausted: retry after ``SessionAction/streamWritable(streamID:)``.
    case mustWait
    /// The stream cannot send (closed, reset, unknown, or the session failed).
    case failed(MuxError)
}

/// Whether ``SessionState/receive(_:nowNanoseconds:)`` parsed the whole chunk.
public enum ReceiveProgress: Hashable, Sendable {
    /// The chunk is fully processed; feed the next one when it arrives.
    case needsInput
    /// The action queue is full: drain the actions, then call
    /// ``SessionState/resumeReceiving(nowNanoseconds:)`` before feeding more.
    case paused
}
