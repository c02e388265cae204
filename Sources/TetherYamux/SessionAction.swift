/// Something the owner of a ``SessionState`` must learn about, in the order produced.
///
/// Frames to write are not actions: they wait in the session's ``OutboundFrameBuffer``, in wire
/// order, until the owner takes them (``SessionState/takeOutbound(nowNanoseconds:_:)``).
public enum SessionAction<Chunk: FrameByteChunk>: Sendable {
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
    /// This side reset the stream because a session limit was reached (its data would pass
    /// ``MuxConfiguration/maxBufferedBytes``); the stream is gone and its users fail with `reason`.
    case streamDropped(streamID: UInt32, reason: MuxError)
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
    /// The session is over. What is still queued (a GoAway) should be written, then the
    /// connection closed; every stream fails with this error.
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

/// The outcome of `SessionState.reserveSend(streamID:wantedBytes:finishing:)`.
@usableFromInline enum SendReservation: Hashable, Sendable {
    /// Queue this Data header followed by exactly `header.length` bytes of the payload.
    case send(FrameHeader)
    /// The peer's window is exhausted, or the outbound buffer is full (which, says the reason):
    /// retry after ``SessionAction/streamWritable(streamID:)``.
    case mustWait(SendWait)
    /// The stream cannot send (closed, reset, unknown, or the session failed).
    case failed(MuxError)
}

/// What a send waits for.
public enum SendWait: Hashable, Sendable {
    /// Credit: the peer's window for the stream is exhausted.
    case window
    /// Room: ``MuxConfiguration/maxOutboundDataBytes`` are queued for the connection.
    case outbound
}

/// How far ``SessionState/send(streamID:payload:cursor:finishing:)`` got.
public enum SendProgress: Hashable, Sendable {
    /// Every byte is queued.
    case done
    /// The peer's window is exhausted, or ``MuxConfiguration/maxOutboundDataBytes`` wait for the
    /// connection (which, says the reason): call again after
    /// ``SessionAction/streamWritable(streamID:)``.
    case mustWait(SendWait)
    /// The stream cannot send (closed, reset, unknown, or the session failed).
    case failed(MuxError)
}

/// Where a send is in its payload: the chunk, the offset in it, the bytes still to queue.
public struct PayloadCursor: Hashable, Sendable {
    /// Index of the chunk the next frame starts in.
    @inlinable public var chunkIndex: Int { _chunkIndex }
    /// Offset of the next byte in that chunk.
    @inlinable public var offset: Int { _offset }
    /// Bytes not yet queued.
    @inlinable public var remainingBytes: Int { _remainingBytes }
    @usableFromInline var _chunkIndex = 0
    @usableFromInline var _offset = 0
    @usableFromInline var _remainingBytes: Int

    /// A cursor at the start of `payload`.
    @inlinable public init<Chunk: FrameByteChunk>(_ payload: [Chunk]) {
        _remainingBytes = payload.reduce(0) { $0 + $1.count }
    }

    /// Whether every byte is queued.
    @inlinable public var isDone: Bool { _remainingBytes == 0 }
}

/// Whether ``SessionState/receive(_:nowNanoseconds:)`` parsed the whole chunk.
public enum ReceiveProgress: Hashable, Sendable {
    /// The chunk is fully processed; feed the next one when it arrives.
    case needsInput
    /// The action queue is full: drain the actions, then call
    /// ``SessionState/resumeReceiving(nowNanoseconds:)`` before feeding more.
    case paused
    /// ``MuxConfiguration/pauseInputAtReplyFrames`` reply frames wait for the connection:
    /// stop reading it (feed nothing), write the outbound frames, and call
    /// ``SessionState/resumeReceiving(nowNanoseconds:)`` after
    /// ``SessionState/outboundWritten(nowNanoseconds:)``; read again once it returns `needsInput`.
    case outputBlocked
}
