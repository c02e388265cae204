/// The state of one stream, as a value: its phase (which halves are open) with the flow-control
/// windows that phase needs, plus the handshake bookkeeping.
///
/// Fully closed and reset streams have no state; the session removes them. The transitions follow
/// hashicorp/yamux `stream.go` `processFlags`: FIN half-closes, a second FIN from the same side is
/// a protocol error, RST ends the stream at once.
public struct StreamState: Hashable, Sendable {
    /// Which halves of the stream are still open. Each phase carries only the windows it uses.
    public enum Phase: Hashable, Sendable {
        /// Both sides may send.
        case open(Open)
        /// This side sent FIN; the peer may still send.
        case halfClosedLocal(HalfClosedLocal)
        /// The peer sent FIN; this side may still send.
        case halfClosedRemote(HalfClosedRemote)
    }

    /// Both directions open.
    public struct Open: Hashable, Sendable {
        /// Credit for sending.
        public var send: SendWindow
        /// Credit granted to the peer.
        public var receive: ReceiveWindow
    }

    /// This side's write half is closed.
    public struct HalfClosedLocal: Hashable, Sendable {
        /// Credit granted to the peer.
        public var receive: ReceiveWindow
    }

    /// The peer's write half is closed: no more credit is granted, only the budget taken by the
    /// receive window's growth is remembered so the session can reclaim it.
    public struct HalfClosedRemote: Hashable, Sendable {
        /// Credit for sending.
        public var send: SendWindow
        /// Session budget held by this stream's receive window.
        public var receiveGrownBytes: UInt64
    }

    /// The current phase.
    public internal(set) var phase: Phase
    /// This side opened the stream and the peer has not yet ACKed it.
    public internal(set) var awaitingAck: Bool
    /// The peer opened the stream and this side has not yet accepted (ACKed) it.
    public internal(set) var awaitingAccept: Bool
    /// A writer was told to wait for credit; the next grant reports the stream writable.
    var writerWaiting = false
    /// A writer was told to wait for outbound room; the next written batch reports it writable.
    @usableFromInline var outputWaiting = false
    /// A window update came due while the session's buffered bytes were at their budget.
    @usableFromInline var updateWithheld = false

    /// This side accepted the stream the peer opened.
    @usableFromInline mutating func markAccepted() {
        awaitingAccept = false
    }

    @usableFromInline init(receiveWindow: ReceiveWindow, openedLocally: Bool) {
        phase = .open(Open(send: SendWindow(), receive: receiveWindow))
        awaitingAck = openedLocally
        awaitingAccept = !openedLocally
    }

    /// Send credit, or `nil` if this side's write half is closed.
    public var sendCreditBytes: UInt32? {
        switch phase {
        case .open(let state): state.send.creditBytes
        case .halfClosedRemote(let state): state.send.creditBytes
        case .halfClosedLocal: nil
        }
    }

    /// The receive window, or `nil` after the peer's FIN.
    public var receiveWindow: ReceiveWindow? {
        switch phase {
        case .open(let state): state.receive
        case .halfClosedLocal(let state): state.receive
        case .halfClosedRemote: nil
        }
    }

    /// Runs `body` on the receive window of the phase that has one (open, or half-closed by this
    /// side) and returns its result; nil after the peer's FIN, when there is no window.
    @inline(__always) mutating func updateReceiveWindow<Result, Failure: Error>(
        _ body: (inout ReceiveWindow) throws(Failure) -> Result
    ) throws(Failure) -> Result? {
        switch phase {
        case .open(var state):
            let result = try body(&state.receive)
            phase = .open(state)
            return result
        case .halfClosedLocal(var state):
            let result = try body(&state.receive)
            phase = .halfClosedLocal(state)
            return result
        case .halfClosedRemote:
            return nil
        }
    }

    /// Receive credit granted by window updates and not used by the peer yet (0 after its FIN).
    @usableFromInline var grantedReceiveCreditBytes: UInt64 { receiveWindow.map { UInt64($0.grantedCreditBytes) } ?? 0 }

    /// Session budget held by the receive window's growth.
    @usableFromInline var receiveGrownBytes: UInt64 {
        switch phase {
        case .open(let state): state.receive.grownBytes
        case .halfClosedLocal(let state): state.receive.grownBytes
        case .halfClosedRemote(let state): state.receiveGrownBytes
        }
    }
}

/// What a received frame did to a stream, for the session to report.
@usableFromInline struct StreamEvents: OptionSet, Hashable, Sendable {
    @usableFromInline var rawValue: UInt8
    @usableFromInline init(rawValue: UInt8) { self.rawValue = rawValue }
    /// The peer ACKed a stream this side opened.
    @usableFromInline static let acknowledged = StreamEvents(rawValue: 1 << 0)
    /// The peer half-closed (FIN).
    @usableFromInline static let finished = StreamEvents(rawValue: 1 << 1)
    /// Both halves are closed: remove the stream.
    @usableFromInline static let closed = StreamEvents(rawValue: 1 << 2)
    /// The peer reset the stream: remove it.
    @usableFromInline static let reset = StreamEvents(rawValue: 1 << 3)
    /// A waiting writer got credit.
    @usableFromInline static let writable = StreamEvents(rawValue: 1 << 4)
}

// MARK: - Frames from the peer

extension StreamState {
    /// Applies a Data frame's flags and payload size. Payload is counted before FIN is applied,
    /// because the last bytes of a stream may travel with its FIN.
    @usableFromInline mutating func receiveData(byteCount: UInt32, flags: FrameFlags, streamID: UInt32) throws(MuxError)
        -> StreamEvents
    {
        if flags.contains(.rst) { return .reset }
        var events = acknowledge(flags)
        if byteCount > 0 {
            let counted: Void? = try updateReceiveWindow { (window) throws(MuxError) in
                try Self.count(byteCount, in: &window, streamID: streamID)
            }
            if counted == nil { throw MuxError(.dataAfterFin, streamID: streamID, value: UInt64(byteCount)) }
        }
        if flags.contains(.fin) { events.formUnion(try receiveFin(streamID: streamID)) }
        return events
    }

    /// Applies a WindowUpdate's flags and credit. Credit for a closed write half is ignored: the
    /// peer may legitimately grant it before it sees our FIN.
    @usableFromInline mutating func receiveWindowUpdate(deltaBytes: UInt32, flags: FrameFlags, streamID: UInt32)
        throws(MuxError)
        -> StreamEvents
    {
        if flags.contains(.rst) { return .reset }
        var events = acknowledge(flags)
        if deltaBytes > 0 {
            do {
                switch phase {
                case .open(var state):
                    try state.send.grant(deltaBytes)
                    phase = .open(state)
                case .halfClosedRemote(var state):
                    try state.send.grant(deltaBytes)
                    phase = .halfClosedRemote(state)
                case .halfClosedLocal:
                    break
                }
            } catch {
                throw MuxError(error.code, streamID: streamID, value: error.value)
            }
            if writerWaiting, let credit = sendCreditBytes, credit > 0 {
                writerWaiting = false
                events.insert(.writable)
            }
        }
        if flags.contains(.fin) { events.formUnion(try receiveFin(streamID: streamID)) }
        return events
    }

    private static func count(_ byteCount: UInt32, in window: inout ReceiveWindow, streamID: UInt32) throws(MuxError) {
        do {
            try window.receive(byteCount)
        } catch {
            throw MuxError(error.code, streamID: streamID, value: error.value)
        }
    }

    private mutating func acknowledge(_ flags: FrameFlags) -> StreamEvents {
        // An ACK for a stream that is not waiting for one is ignored, as yamux only logs it.
        guard flags.contains(.ack), awaitingAck else { return [] }
        awaitingAck = false
        return .acknowledged
    }

    private mutating func receiveFin(streamID: UInt32) throws(MuxError) -> StreamEvents {
        switch phase {
        case .open(let state):
            phase = .halfClosedRemote(HalfClosedRemote(send: state.send, receiveGrownBytes: state.receive.grownBytes))
            return .finished
        case .halfClosedLocal:
            return [.finished, .closed]
        case .halfClosedRemote:
            throw MuxError(.unexpectedFin, streamID: streamID)
        }
    }
}

// MARK: - Local operations

extension StreamState {
    /// The outcome of asking to send Data.
    @usableFromInline enum SendReservation: Hashable, Sendable {
        /// Send a frame of `byteCount` bytes; `fin` says whether it carries FIN, `closed` whether
        /// that FIN closed the stream.
        case frame(byteCount: UInt32, fin: Bool, closed: Bool)
        /// No credit: wait for a WindowUpdate.
        case mustWait
        /// The write half is closed.
        case writeClosed
    }

    /// Spends credit for one Data frame of at most `maxFrameBytes`. With `finishing`, a frame that
    /// carries the last of `wantedBytes` also carries FIN, saving a separate close frame.
    @usableFromInline mutating func reserveSend(wantedBytes: Int, maxFrameBytes: Int, finishing: Bool)
        -> SendReservation
    {
        var send: SendWindow
        switch phase {
        case .open(let state): send = state.send
        case .halfClosedRemote(let state): send = state.send
        case .halfClosedLocal: return .writeClosed
        }
        let byteCount = send.take(wantedBytes: wantedBytes, maxFrameBytes: maxFrameBytes)
        guard byteCount > 0 else {
            writerWaiting = true
            return .mustWait
        }
        let fin = finishing && Int(byteCount) == wantedBytes
        switch phase {
        case .open(var state):
            state.send = send
            phase = fin ? .halfClosedLocal(HalfClosedLocal(receive: state.receive)) : .open(state)
            return .frame(byteCount: byteCount, fin: fin, closed: false)
        case .halfClosedRemote(var state):
            state.send = send
            phase = .halfClosedRemote(state)
            return .frame(byteCount: byteCount, fin: fin, closed: fin)
        case .halfClosedLocal:
            return .writeClosed
        }
    }

    /// The outcome of closing the write half.
    @usableFromInline enum CloseResult: Hashable, Sendable {
        /// Send FIN; the stream stays open for the peer's data.
        case sendFin
        /// Send FIN; the stream is now fully closed.
        case sendFinAndClose
        /// The write half was already closed: nothing to send (yamux's `Close` is idempotent too).
        case alreadyClosed
    }

    /// Closes this side's write half.
    @usableFromInline mutating func closeWrite() -> CloseResult {
        switch phase {
        case .open(let state):
            phase = .halfClosedLocal(HalfClosedLocal(receive: state.receive))
            return .sendFin
        case .halfClosedRemote:
            return .sendFinAndClose
        case .halfClosedLocal:
            return .alreadyClosed
        }
    }

    /// Records consumed bytes; returns the window update to send, if one is due and its credit
    /// fits in `limitBytes` (else the update stays due: see ``isUpdateDue``). Nothing is granted
    /// after the peer's FIN, since it will not send again.
    @usableFromInline mutating func consume(
        _ byteCount: UInt32,
        nowNanoseconds: UInt64,
        rttNanoseconds: UInt64?,
        budgetBytes: UInt64,
        limitBytes: UInt64
    ) -> ReceiveWindow.Update? {
        updateReceiveWindow { window in
            window.consume(
                byteCount, nowNanoseconds: nowNanoseconds, rttNanoseconds: rttNanoseconds, budgetBytes: budgetBytes,
                limitBytes: limitBytes)
        } ?? nil
    }

    /// Whether a window update is due (enough consumed) but was not granted.
    @usableFromInline var isUpdateDue: Bool { receiveWindow?.isUpdateDue ?? false }

    /// Grants the due window update if its credit fits in `limitBytes`.
    @usableFromInline mutating func grantDueUpdate(
        nowNanoseconds: UInt64, rttNanoseconds: UInt64?, budgetBytes: UInt64, limitBytes: UInt64
    ) -> ReceiveWindow.Update? {
        consume(
            0, nowNanoseconds: nowNanoseconds, rttNanoseconds: rttNanoseconds, budgetBytes: budgetBytes,
            limitBytes: limitBytes)
    }

    /// The update for the SYN or ACK frame (`streamWindowBytes − 256 KiB`).
    @usableFromInline mutating func openingUpdate(nowNanoseconds: UInt64) -> UInt32 {
        // After the peer's FIN credit would be useless, but the ACK flag must still go out.
        updateReceiveWindow { $0.openingUpdate(nowNanoseconds: nowNanoseconds) } ?? 0
    }
}
