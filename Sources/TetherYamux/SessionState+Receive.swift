import TetherCollections

// Frames from the peer: one handler per frame type, like yamux's `handlers` table in session.go.

extension SessionState {
    /// Parses and applies the frames in `chunk`.
    ///
    /// Processing pauses when ``MuxConfiguration/maxPendingActions`` actions are queued, so a peer
    /// flooding small Data frames (one delivery each) cannot grow the queue: on ``ReceiveProgress/paused`` drain ``nextAction()``
    /// and call ``resumeReceiving(nowNanoseconds:)`` before feeding the next chunk. It stops when
    /// ``MuxConfiguration/pauseInputAtReplyFrames`` reply frames wait for the connection
    /// (``ReceiveProgress/outputBlocked``): a peer that floods pings or SYNs and never reads then
    /// only fills its own socket. After the session failed, input is ignored.
    @discardableResult
    @inlinable public mutating func receive(_ chunk: Chunk, nowNanoseconds: UInt64) -> ReceiveProgress {
        guard failure == nil else { return .needsInput }
        decoder.feed(chunk)
        return resumeReceiving(nowNanoseconds: nowNanoseconds)
    }

    /// Continues parsing a chunk after ``ReceiveProgress/paused``.
    @discardableResult
    @inlinable public mutating func resumeReceiving(nowNanoseconds: UInt64) -> ReceiveProgress {
        while failure == nil {
            guard pendingActionCount < configuration.maxPendingActions else { return .paused }
            if _outbound.outstandingReplyFrames >= configuration.pauseInputAtReplyFrames,
                configuration.pauseInputAtReplyFrames < configuration.maxOutboundReplyFrames
            {
                return .outputBlocked
            }
            let frame: DecodedFrame<Chunk>
            do {
                guard let next = try decoder.nextFrame() else { return .needsInput }
                frame = next
            } catch {
                fail(error, goAway: error.goAwayCode)
                break
            }
            do {
                try handle(frame, nowNanoseconds: nowNanoseconds)
            } catch {
                fail(error, goAway: error.goAwayCode)
            }
        }
        return .needsInput
    }

    @inlinable mutating func handle(_ frame: DecodedFrame<Chunk>, nowNanoseconds: UInt64) throws(MuxError) {
        let header = frame.header
        switch header.type {
        case .data, .windowUpdate:
            guard header.streamID != 0 else { throw MuxError(.invalidStreamID, streamID: 0) }
            try handleStreamFrame(frame)
        case .ping:
            guard header.streamID == 0 else { throw MuxError(.invalidStreamID, streamID: header.streamID) }
            handlePing(header, nowNanoseconds: nowNanoseconds)
        case .goAway:
            guard header.streamID == 0 else { throw MuxError(.invalidStreamID, streamID: header.streamID) }
            handleGoAway(code: header.length)
        }
    }

    // MARK: Data and WindowUpdate

    @inlinable mutating func handleStreamFrame(_ frame: DecodedFrame<Chunk>) throws(MuxError) {
        let header = frame.header
        let streamID = header.streamID
        if header.flags.contains(.syn) {
            guard try admitIncomingStream(streamID) else { return }
        }
        guard var state = streams[streamID] else {
            // A stream this side closed or reset may still have frames in flight: yamux drops the
            // payload and ignores the credit, and so do we.
            return
        }
        let events: StreamEvents
        if header.type == .data {
            events = try state.receiveData(byteCount: header.length, flags: header.flags, streamID: streamID)
        } else {
            events = try state.receiveWindowUpdate(deltaBytes: header.length, flags: header.flags, streamID: streamID)
        }
        store(state, streamID: streamID)
        if header.type == .data, header.length > 0, !events.contains(.reset) {
            guard bufferedBytes + UInt64(header.length) <= configuration.maxBufferedBytes else {
                dropOverBudget(streamID, events: events, byteCount: header.length)
                return
            }
            _bufferedBytes += UInt64(header.length)
        }
        report(events, streamID: streamID, payload: events.contains(.reset) ? [] : frame.payload)
    }

    /// Data that would take the session past its unread-byte budget: the stream is reset and
    /// its data dropped (never delivered, never buffered).
    @inlinable mutating func dropOverBudget(_ streamID: UInt32, events: StreamEvents, byteCount: UInt32) {
        if events.contains(.acknowledged) {
            emit(.streamAcknowledged(streamID: streamID))
            releaseAckSlot()
        }
        sendReply(.windowUpdate(streamID: streamID, flags: .rst, deltaBytes: 0))
        let reason = MuxError(.receiveBudgetExceeded, streamID: streamID, value: UInt64(byteCount))
        removeStream(streamID, ending: .failed(reason))
        emit(.streamDropped(streamID: streamID, reason: reason))
    }

    @inlinable mutating func report(_ events: StreamEvents, streamID: UInt32, payload: [Chunk]) {
        if events.contains(.acknowledged) {
            emit(.streamAcknowledged(streamID: streamID))
            releaseAckSlot()
        }
        if events.contains(.reset) {
            removeStream(streamID, ending: .failed(MuxError(.streamReset, streamID: streamID)))
            emit(.streamReset(streamID: streamID))
            return
        }
        if !payload.isEmpty { emit(.deliver(streamID: streamID, payload: payload)) }
        if events.contains(.writable) { emit(.streamWritable(streamID: streamID)) }
        if events.contains(.finished) { emit(.streamFinished(streamID: streamID)) }
        if events.contains(.closed) {
            removeStream(streamID, ending: .closed)
            emit(.streamClosed(streamID: streamID))
        }
    }

    /// Handles SYN: returns `true` if the stream now exists and the rest of the frame applies,
    /// `false` if it was refused with RST (its payload is then dropped).
    @inlinable mutating func admitIncomingStream(_ streamID: UInt32) throws(MuxError) -> Bool {
        // yamux does not check parity; a peer reusing our parity would collide with our own IDs.
        guard !role.opens(streamID) else { throw MuxError(.streamIDParity, streamID: streamID) }
        guard streams[streamID] == nil else { throw MuxError(.duplicateStream, streamID: streamID) }
        // A reused ID could be read through a handle still held for the old stream.
        try claimIncomingStreamID(streamID)
        guard !localGoAwaySent, acceptQueue.count < configuration.acceptBacklog,
            streams.count < configuration.maxConcurrentStreams,
            bufferedBytes < configuration.maxBufferedBytes
        else {
            sendReply(.windowUpdate(streamID: streamID, flags: .rst, deltaBytes: 0))
            return false
        }
        store(StreamState(receiveWindow: makeReceiveWindow(), openedLocally: false), streamID: streamID)
        acceptQueue.append(streamID)
        emit(.streamOpened(streamID: streamID))
        return true
    }

    /// Records the peer's use of `streamID`: higher than any before (the IDs it skipped may still
    /// come, out of order), or one it skipped.
    ///
    /// - Throws: ``MuxError/Code-swift.struct/streamIDReused`` for an ID used before, or skipped
    ///   more than `maxSkippedStreamIDs` streams ago.
    @inlinable mutating func claimIncomingStreamID(_ streamID: UInt32) throws(MuxError) {
        if streamID > highestIncomingStreamID {
            let next = highestIncomingStreamID == 0 ? role.peerFirstStreamID : highestIncomingStreamID + 2
            if streamID > next {
                let skippedCount = Int((streamID - next) / 2)
                let kept = min(skippedCount, Self.maxSkippedStreamIDs)
                let firstKept = streamID - UInt32(2 * kept)
                skippedIncomingStreamIDs.append(contentsOf: stride(from: firstKept, to: streamID, by: 2))
                let excess = skippedIncomingStreamIDs.count - Self.maxSkippedStreamIDs
                if excess > 0 { skippedIncomingStreamIDs.removeFirst(excess) }
            }
            highestIncomingStreamID = streamID
            return
        }
        guard let index = skippedIndex(of: streamID) else {
            throw MuxError(.streamIDReused, streamID: streamID, value: UInt64(highestIncomingStreamID))
        }
        skippedIncomingStreamIDs.remove(at: index)
    }

    /// Binary search in the ascending `skippedIncomingStreamIDs`.
    @inlinable func skippedIndex(of streamID: UInt32) -> Int? {
        var low = 0
        var high = skippedIncomingStreamIDs.count
        while low < high {
            let middle = (low + high) / 2
            if skippedIncomingStreamIDs[middle] < streamID { low = middle + 1 } else { high = middle }
        }
        return low < skippedIncomingStreamIDs.count && skippedIncomingStreamIDs[low] == streamID ? low : nil
    }

    @inlinable func makeReceiveWindow() -> ReceiveWindow {
        let cap = configuration.windowAutoTuning ? configuration.maxStreamWindowBytes : configuration.streamWindowBytes
        return ReceiveWindow(maxWindowBytes: configuration.streamWindowBytes, capWindowBytes: cap)
    }

    // MARK: Ping and GoAway

    @inlinable mutating func handlePing(_ header: FrameHeader, nowNanoseconds: UInt64) {
        if header.flags.contains(.syn) {
            sendReply(.ping(opaque: header.length, reply: true))
            return
        }
        // A reply nobody waits for (late, or duplicated) is ignored, as in yamux.
        guard let index = pings.firstIndex(where: { $0.opaque == header.length }) else { return }
        let ping = pings.remove(at: index)
        let rtt = nowNanoseconds >= ping.sentNanoseconds ? nowNanoseconds - ping.sentNanoseconds : 0
        _rttNanoseconds = rtt
        if ping.kind == .user {
            emit(.pingAnswered(opaque: ping.opaque, rttNanoseconds: rtt))
        }
    }

    @inlinable mutating func handleGoAway(code: UInt32) {
        guard code == GoAwayCode.normal.rawValue else {
            // Protocol error, internal error and unknown codes end the session (yamux session.go).
            fail(MuxError(.remoteGoAway, value: UInt64(code)), goAway: nil)
            return
        }
        guard !remoteGoAwayReceived else { return }
        _remoteGoAwayReceived = true
        emit(.remoteGoAway)
    }
}
