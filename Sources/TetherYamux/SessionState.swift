import TetherCollections

/// The yamux session state machine: a pure value that turns received bytes, application requests
/// and clock ticks into ``SessionAction``s. It never performs I/O and never reads a clock.
///
/// The owner (the reactor binding, or a test) drives it like this:
/// - bytes from the connection go to ``receive(_:nowNanoseconds:)``, unless the last call
///   returned ``ReceiveProgress/outputBlocked``;
/// - the application calls ``openStream(nowNanoseconds:)``, ``acceptStream(nowNanoseconds:)``,
///   ``send(streamID:payload:cursor:finishing:)``, ``closeWrite(streamID:)``,
///   ``resetStream(streamID:)`` and ``consumed(streamID:byteCount:nowNanoseconds:)``;
/// - a timer calls ``tick(nowNanoseconds:)`` at ``nextDeadlineNanoseconds``;
/// - after every call, ``nextAction()`` is drained and each action carried out, and the frames
///   queued in ``outbound`` are taken (``takeOutbound(nowNanoseconds:_:)``) and written, one
///   batch at a time, each reported with ``outboundWritten(nowNanoseconds:)``.
///
/// Behaviour follows hashicorp/yamux (see `docs/wire-protocol.md`), plus: stream-ID parity is
/// checked and IDs may not be reused, credit overflow is a protocol error, Data is split into
/// frames of at most ``MuxConfiguration/maxFrameBytes``, receive windows auto-tune under a session
/// budget, and every queue has a limit: outbound reply frames and data, unread bytes across
/// streams, the accept backlog, pending actions.
public struct SessionState<Chunk: FrameByteChunk>: Sendable {
    /// Which end this session is.
    public let role: MuxRole
    /// The limits and timings in force.
    public let configuration: MuxConfiguration

    /// Why the session ended, or `nil` while it runs.
    @inlinable @inline(__always) public var failure: MuxError? { _failure }
    @usableFromInline var _failure: MuxError?
    /// This side sent GoAway(normal): incoming SYNs are refused with RST.
    @inlinable @inline(__always) public var localGoAwaySent: Bool { _localGoAwaySent }
    @usableFromInline var _localGoAwaySent: Bool = false
    /// The peer sent GoAway(normal): no new streams may be opened.
    @inlinable @inline(__always) public var remoteGoAwayReceived: Bool { _remoteGoAwayReceived }
    @usableFromInline var _remoteGoAwayReceived: Bool = false
    /// The latest round-trip estimate from a ping, or `nil` before the first reply.
    @inlinable @inline(__always) public var rttNanoseconds: UInt64? { _rttNanoseconds }
    @usableFromInline var _rttNanoseconds: UInt64?
    /// Window growth the session budget still allows across all streams.
    @inlinable @inline(__always) public var receiveBudgetRemainingBytes: UInt64 { _receiveBudgetRemainingBytes }
    @usableFromInline var _receiveBudgetRemainingBytes: UInt64
    /// Frames waiting for the connection, in wire order.
    @inlinable @inline(__always) public var outbound: OutboundFrameBuffer<Chunk> { _outbound }
    @usableFromInline var _outbound: OutboundFrameBuffer<Chunk> = OutboundFrameBuffer<Chunk>()
    /// Payload bytes delivered to streams and not yet reported consumed, across all streams
    /// (closed ones included, until their bytes are reported read or dropped).
    @inlinable @inline(__always) public var bufferedBytes: UInt64 { _bufferedBytes }
    @usableFromInline var _bufferedBytes: UInt64 = 0
    /// Receive credit granted by window updates across all streams and not used by the peer yet:
    /// bytes that may still arrive on top of ``bufferedBytes`` (besides each stream's implicit
    /// first 256 KiB). Kept equal to the streams' sum by ``store(_:streamID:)``.
    @inlinable @inline(__always) public var grantedCreditBytes: UInt64 { _grantedCreditBytes }
    @usableFromInline var _grantedCreditBytes: UInt64 = 0

    /// Every stream; changed only through ``store(_:streamID:)`` and ``removeStream(_:)``, which
    /// keep ``grantedCreditBytes`` in step.
    @usableFromInline var streams: [UInt32: StreamState] = [:]
    /// How each ended stream (one that is not in `streams`) ended, kept until the owner releases
    /// it (``releaseStream(_:)``): a stream's reader and writers learn its end from here
    /// (``readStatus(of:)``, ``streamFailure(_:)``), so the owner keeps no copy of it.
    @usableFromInline var endedStreams: [UInt32: StreamEnd] = [:]
    @usableFromInline var acceptQueue = FIFO<UInt32>()
    @usableFromInline var unacknowledgedStreamCount = 0
    /// An opener was told to wait; the next free ACK slot reports ``SessionAction/openSlotAvailable``.
    @usableFromInline var openerWaiting = false
    /// Kept wider than 32 bits so that stepping past the last ID cannot wrap around to reuse one.
    @usableFromInline var nextStreamID: UInt64
    @usableFromInline var decoder: FrameDecoder<Chunk>
    @usableFromInline var pings: [OutstandingPing] = []
    @usableFromInline var nextPingOpaque: UInt32 = 0
    @usableFromInline var nextKeepAliveNanoseconds: UInt64?
    /// The highest stream ID the peer has opened (or tried to).
    @usableFromInline var highestIncomingStreamID: UInt32 = 0
    /// IDs below the highest whose SYN has not arrived yet, ascending: a peer that opens streams
    /// concurrently (Go's yamux does) may send their SYNs out of order. At most
    /// `maxSkippedStreamIDs`; any other ID at or below the highest is a reused one.
    @usableFromInline var skippedIncomingStreamIDs: [UInt32] = []
    /// How far out of order SYNs may arrive, in streams (Go opens at most 256 at a time).
    @usableFromInline static var maxSkippedStreamIDs: Int { 1024 }
    /// Streams whose writers wait for outbound data to drain below `maxOutboundDataBytes`.
    @usableFromInline var outputWaiters: [UInt32] = []
    /// Streams whose due window update waits for the buffered bytes to fall under the budget.
    @usableFromInline var withheldUpdates: [UInt32] = []
    @usableFromInline var outbox: [SessionAction<Chunk>] = []
    @usableFromInline var outboxReadIndex = 0

    /// A ping waiting for its reply.
    @usableFromInline struct OutstandingPing: Hashable, Sendable {
        @usableFromInline enum Kind: Hashable, Sendable {
            /// Liveness check; no reply in time fails the session.
            case keepAlive
            /// Asked for by the application; no reply in time is reported.
            case user
            /// Sent only to learn the round-trip time for window auto-tuning.
            case rttProbe
        }
        @usableFromInline var opaque: UInt32
        @usableFromInline var sentNanoseconds: UInt64
        @usableFromInline var kind: Kind

        @inlinable init(opaque: UInt32, sentNanoseconds: UInt64, kind: Kind) {
            self.opaque = opaque
            self.sentNanoseconds = sentNanoseconds
            self.kind = kind
        }
    }

    /// Creates a session.
    ///
    /// - Throws: ``MuxError/Code-swift.struct/invalidConfiguration`` if `configuration` is out of range.
    @inlinable public init(role: MuxRole, configuration: MuxConfiguration = MuxConfiguration(), nowNanoseconds: UInt64)
        throws(MuxError)
    {
        try configuration.validate()
        self.role = role
        self.configuration = configuration
        self.nextStreamID = UInt64(role.firstStreamID)
        // No window this session grants can exceed the largest window it may grow to, so a longer
        // Data frame can be refused from its header alone, before any payload is buffered.
        self.decoder = FrameDecoder(
            maxDataPayloadBytes: configuration.windowAutoTuning
                ? configuration.maxStreamWindowBytes : configuration.streamWindowBytes)
        self._receiveBudgetRemainingBytes = configuration.sessionReceiveBudgetBytes
        if let interval = configuration.keepAliveIntervalNanoseconds {
            nextKeepAliveNanoseconds = nowNanoseconds.addingReportingOverflow(interval).partialValue
        }
    }

    // MARK: Queries

    /// Whether the session ended.
    @inlinable @inline(__always) public var isFailed: Bool { failure != nil }

    /// The state of a stream, or `nil` if it is unknown, closed or reset.
    @inlinable @inline(__always) public func stream(_ streamID: UInt32) -> StreamState? { streams[streamID] }

    /// The number of streams tracked (open or half-closed, both directions).
    @inlinable @inline(__always) public var streamCount: Int { streams.count }

    /// The number of ended streams whose end is kept until the owner releases them.
    @inlinable @inline(__always) public var endedStreamCount: Int { endedStreams.count }

    /// What a reader of the stream finds once its delivered bytes are read: more may come, the
    /// peer finished (FIN, or both halves closed), or the stream failed — reset by the peer,
    /// dropped over a session limit, or the session's failure. A stream the session does not
    /// know (never reported, or released) reads as failed with `streamClosed`.
    @inlinable @inline(__always) public func readStatus(of streamID: UInt32) -> StreamReadStatus {
        switch endedStreams[streamID] {
        case .closed: return .finished
        case .failed(let error): return .failed(error)
        case nil: break
        }
        if let failure { return .failed(failure) }
        guard let state = streams[streamID] else { return .failed(MuxError(.streamClosed, streamID: streamID)) }
        if case .halfClosedRemote = state.phase { return .finished }
        return .open
    }

    /// Why the stream cannot be used, or `nil` if it can (or ended normally: its write
    /// half then fails with `streamClosed` on its own). A reset or dropped stream keeps its own
    /// reason after the session fails.
    @inlinable @inline(__always) public func streamFailure(_ streamID: UInt32) -> MuxError? {
        switch endedStreams[streamID] {
        case .closed: return nil
        case .failed(let error): return error
        case nil: return failure
        }
    }

    /// The owner is done with a stream it was told of (opened, or reported by
    /// ``SessionAction/streamOpened(streamID:)``): a stream still open is reset, and the record of
    /// an ended one is forgotten. Every such stream is released once; until then its end is kept.
    @inlinable public mutating func releaseStream(_ streamID: UInt32) {
        // A stream with a recorded end is not in `streams`: nothing to reset.
        if endedStreams.removeValue(forKey: streamID) == nil { resetStream(streamID: streamID) }
    }

    /// Incoming streams waiting in the accept queue.
    @inlinable @inline(__always) public var acceptQueueCount: Int { acceptQueue.count }

    /// Streams this side opened that the peer has not ACKed yet.
    @inlinable @inline(__always) public var unacknowledgedCount: Int { unacknowledgedStreamCount }

    // MARK: Actions

    /// The next action to carry out, in order, or `nil` when none is pending.
    @inlinable public mutating func nextAction() -> SessionAction<Chunk>? {
        guard outboxReadIndex < outbox.count else { return nil }
        let action = outbox[outboxReadIndex]
        outboxReadIndex += 1
        if outboxReadIndex == outbox.count {
            // Keep the storage: a drained queue is refilled on the next call without allocating.
            outbox.removeAll(keepingCapacity: true)
            outboxReadIndex = 0
        }
        return action
    }

    /// Actions queued and not yet taken.
    @inlinable @inline(__always) public var pendingActionCount: Int { outbox.count - outboxReadIndex }

    @inlinable mutating func emit(_ action: SessionAction<Chunk>) {
        outbox.append(action)
    }

    @inlinable mutating func sendControl(_ header: FrameHeader) {
        _outbound.appendControl(header)
    }

    /// Queues a frame that answers the peer's own frame; fails the session once more of them wait
    /// than ``MuxConfiguration/maxOutboundReplyFrames`` (an owner that keeps feeding input while
    /// the output is blocked).
    @inlinable mutating func sendReply(_ header: FrameHeader) {
        _outbound.appendControl(header, isReply: true)
        if _outbound.outstandingReplyFrames > configuration.maxOutboundReplyFrames {
            fail(
                MuxError(.outboundQueueFull, value: UInt64(_outbound.outstandingReplyFrames)), goAway: .protocolError)
        }
    }

    // MARK: Outbound frames

    /// Whether frames wait to be taken.
    @inlinable @inline(__always) public var hasOutbound: Bool { !_outbound.isEmpty }

    /// Hands every queued frame to `write` in wire order; they are in flight until
    /// ``outboundWritten(nowNanoseconds:)``. Write one batch at a time.
    @inlinable public mutating func takeOutbound(
        nowNanoseconds: UInt64, _ write: (OutboundFrameBuffer<Chunk>.Item) -> Void
    ) {
        _outbound.take(nowNanoseconds: nowNanoseconds, write)
    }

    /// The connection took part of the batch in flight: the write timeout starts again.
    @inlinable public mutating func outboundProgressed(nowNanoseconds: UInt64) {
        _outbound.progressed(nowNanoseconds: nowNanoseconds)
    }

    /// The connection took the whole batch in flight. Writers waiting for outbound room may go on
    /// (``SessionAction/streamWritable(streamID:)``); after ``ReceiveProgress/outputBlocked``,
    /// call ``resumeReceiving(nowNanoseconds:)``.
    @inlinable public mutating func outboundWritten(nowNanoseconds: UInt64) {
        _outbound.written()
        guard !outputWaiters.isEmpty, failure == nil,
            _outbound.outstandingDataBytes < configuration.maxOutboundDataBytes
        else { return }
        for streamID in outputWaiters {
            guard var state = streams[streamID], state.outputWaiting else { continue }
            state.outputWaiting = false
            store(state, streamID: streamID)
            emit(.streamWritable(streamID: streamID))
        }
        outputWaiters.removeAll(keepingCapacity: true)
    }

    /// Whether a write has been in flight for ``MuxConfiguration/writeTimeoutNanoseconds`` with no
    /// progress: the peer stopped reading. Asked by the owner after the session failed too, so
    /// that closing cannot wait for the connection forever.
    @inlinable @inline(__always) public func isWriteStalled(nowNanoseconds: UInt64) -> Bool {
        guard let since = _outbound.writingSinceNanoseconds, nowNanoseconds >= since else { return false }
        return nowNanoseconds - since >= configuration.writeTimeoutNanoseconds
    }

    /// When the write in flight times out, if one is.
    @inlinable var writeDeadlineNanoseconds: UInt64? {
        _outbound.writingSinceNanoseconds.map {
            $0.addingReportingOverflow(configuration.writeTimeoutNanoseconds).partialValue
        }
    }

    // MARK: Failure and stream removal

    /// Ends the session: sends GoAway with `goAway` if given, forgets every stream, reports
    /// ``SessionAction/sessionFailed(_:)``. Later calls keep the first error.
    @inlinable mutating func fail(_ error: MuxError, goAway: GoAwayCode?) {
        guard failure == nil else { return }
        _failure = error
        if let goAway { sendControl(.goAway(goAway)) }
        // Drop the unparsed input now: its chunks are receive buffers the reactor wants back.
        decoder = FrameDecoder(maxDataPayloadBytes: decoder.maxDataPayloadBytes)
        streams.removeAll()
        _grantedCreditBytes = 0
        acceptQueue.removeAll()
        unacknowledgedStreamCount = 0
        pings.removeAll()
        nextKeepAliveNanoseconds = nil
        _receiveBudgetRemainingBytes = configuration.sessionReceiveBudgetBytes
        _bufferedBytes = 0
        outputWaiters.removeAll()
        withheldUpdates.removeAll()
        emit(.sessionFailed(error))
    }

    /// Forgets a stream and gives back what it held: its ACK slot, its accept-queue entry, the
    /// budget its window grew by. How it ended is kept until the owner releases it; a stream the
    /// owner reset itself (`ending` nil) is released at once.
    @inlinable mutating func removeStream(_ streamID: UInt32, ending: StreamEnd?) {
        guard let state = streams.removeValue(forKey: streamID) else { return }
        if let ending { endedStreams[streamID] = ending }
        _grantedCreditBytes -= state.grantedReceiveCreditBytes
        _receiveBudgetRemainingBytes += state.receiveGrownBytes
        if state.awaitingAck { releaseAckSlot() }
        if state.awaitingAccept { acceptQueue.removeAll { $0 == streamID } }
    }

    /// Stores a stream's new state, keeping ``grantedCreditBytes`` the sum of the streams' credit.
    @inlinable mutating func store(_ state: StreamState, streamID: UInt32) {
        let before = streams.updateValue(state, forKey: streamID)?.grantedReceiveCreditBytes ?? 0
        _grantedCreditBytes = grantedCreditBytes - before + state.grantedReceiveCreditBytes
    }

    @inlinable mutating func releaseAckSlot() {
        assert(unacknowledgedStreamCount > 0, "ACK slot released twice")
        unacknowledgedStreamCount -= 1
        if openerWaiting {
            openerWaiting = false
            emit(.openSlotAvailable)
        }
    }
}

/// How a stream the session stopped tracking ended.
@usableFromInline enum StreamEnd: Hashable, Sendable {
    /// Both halves closed normally.
    case closed
    /// Reset by the peer, or dropped over a session limit.
    case failed(MuxError)
}

/// What a stream's reader finds after its delivered bytes (see ``SessionState/readStatus(of:)``).
public enum StreamReadStatus: Hashable, Sendable {
    /// More data may arrive.
    case open
    /// The peer sent FIN: end of stream.
    case finished
    /// The stream failed with this error.
    case failed(MuxError)
}
