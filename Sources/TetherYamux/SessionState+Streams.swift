import TetherCollections

// Stream operations requested by the application on this side.

extension SessionState {
    /// The largest stream ID yamux allows to be opened; hashicorp's `OpenStream` fails with
    /// `ErrStreamsExhausted` once the next ID reaches 2³²−2.
    @usableFromInline static var streamIDLimit: UInt64 { UInt64(UInt32.max) - 1 }

    /// Opens a stream: queues WindowUpdate|SYN carrying `streamWindowBytes − 256 KiB`, as
    /// hashicorp's `OpenStream` does. Data may be sent at once, before the peer's ACK.
    @inlinable public mutating func openStream(nowNanoseconds: UInt64) -> OpenStreamResult {
        if let failure { return .refused(failure) }
        guard !remoteGoAwayReceived else { return .refused(MuxError(.remoteGoAway, value: 0)) }
        guard nextStreamID < Self.streamIDLimit else { return .refused(MuxError(.streamsExhausted)) }
        guard streams.count < configuration.maxConcurrentStreams else {
            return .refused(MuxError(.tooManyStreams, value: UInt64(streams.count)))
        }
        guard unacknowledgedStreamCount < configuration.maxUnacknowledgedStreams else {
            openerWaiting = true
            return .mustWait
        }
        let streamID = UInt32(nextStreamID)
        nextStreamID += 2
        var state = StreamState(receiveWindow: makeReceiveWindow(), openedLocally: true)
        let delta = state.openingUpdate(nowNanoseconds: nowNanoseconds)
        store(state, streamID: streamID)
        unacknowledgedStreamCount += 1
        sendControl(.windowUpdate(streamID: streamID, flags: .syn, deltaBytes: delta))
        return .opened(streamID: streamID)
    }

    /// Takes the oldest stream from the accept queue and queues its ACK (a WindowUpdate|ACK with
    /// `streamWindowBytes − 256 KiB`). Like hashicorp's `Accept`, the ACK goes out only now, so
    /// streams nobody accepts hold the peer's ACK backlog, which is the backpressure on openers.
    ///
    /// Returns `nil` when no stream is waiting.
    @inlinable public mutating func acceptStream(nowNanoseconds: UInt64) -> UInt32? {
        while let streamID = acceptQueue.popFirst() {
            guard var state = streams[streamID] else { continue }
            let delta = state.openingUpdate(nowNanoseconds: nowNanoseconds)
            state.markAccepted()
            store(state, streamID: streamID)
            sendControl(.windowUpdate(streamID: streamID, flags: .ack, deltaBytes: delta))
            return streamID
        }
        return nil
    }

    /// Queues Data frames carrying `payload` from `cursor` on, each at most
    /// ``MuxConfiguration/maxFrameBytes`` and never more than the peer's remaining window, until
    /// every byte is queued or the stream must wait (no credit, or
    /// ``MuxConfiguration/maxOutboundDataBytes`` wait for the connection). The frames' payloads
    /// are slices of `payload`'s chunks: nothing is copied.
    ///
    /// Call again with the same `payload` and `cursor` after
    /// ``SessionAction/streamWritable(streamID:)``. With `finishing`, the frame carrying the last
    /// byte also carries FIN and closes the write half.
    ///
    /// - Precondition: `payload` holds at least one byte; use ``closeWrite(streamID:)`` to close
    ///   without data.
    @inlinable public mutating func send(
        streamID: UInt32, payload: [Chunk], cursor: inout PayloadCursor, finishing: Bool = false
    )
        -> SendProgress
    {
        while cursor.remainingBytes > 0 {
            switch reserveSend(streamID: streamID, wantedBytes: cursor.remainingBytes, finishing: finishing) {
            case .send(let header):
                _outbound.appendDataHeader(header)
                var frameBytes = Int(header.length)
                while frameBytes > 0 {
                    let chunk = payload[cursor.chunkIndex]
                    let take = min(frameBytes, chunk.count - cursor.offset)
                    _outbound.appendPayload(
                        take == chunk.count ? chunk : chunk.slice(cursor.offset..<(cursor.offset + take)))
                    frameBytes -= take
                    cursor._offset += take
                    if cursor.offset == chunk.count {
                        cursor._chunkIndex += 1
                        cursor._offset = 0
                    }
                }
                cursor._remainingBytes -= Int(header.length)
            case .mustWait(let reason):
                return .mustWait(reason)
            case .failed(let error):
                return .failed(error)
            }
        }
        return .done
    }

    /// Whether `byteCount` bytes can be queued on the stream at once, without waiting.
    @inlinable @inline(__always) public func canSendNow(streamID: UInt32, byteCount: Int) -> Bool {
        guard failure == nil, let credit = streams[streamID]?.sendCreditBytes else { return false }
        return byteCount <= Int(credit)
            && _outbound.outstandingDataBytes + byteCount <= configuration.maxOutboundDataBytes
    }

    /// Reserves the next Data frame for a stream: at most `wantedBytes`, at most
    /// ``MuxConfiguration/maxFrameBytes``, never more than the peer's remaining window; `mustWait`
    /// while ``MuxConfiguration/maxOutboundDataBytes`` wait for the connection.
    ///
    /// The caller queues the returned header followed by that many payload bytes, then asks again
    /// for the rest. With `finishing`, the frame that carries the last of `wantedBytes` also carries
    /// FIN and closes the write half.
    ///
    /// - Precondition: `wantedBytes > 0`; use ``closeWrite(streamID:)`` to close without data.
    @inlinable mutating func reserveSend(streamID: UInt32, wantedBytes: Int, finishing: Bool = false) -> SendReservation
    {
        precondition(wantedBytes > 0, "reserveSend needs a positive byte count")
        // A failed session tracks no streams. A stream that closed normally before the session
        // failed reports the session's failure.
        guard var state = streams[streamID] else {
            return .failed(streamFailure(streamID) ?? failure ?? MuxError(.streamClosed, streamID: streamID))
        }
        guard _outbound.outstandingDataBytes < configuration.maxOutboundDataBytes else {
            guard state.sendCreditBytes != nil else { return .failed(MuxError(.streamClosed, streamID: streamID)) }
            if !state.outputWaiting {
                state.outputWaiting = true
                store(state, streamID: streamID)
                outputWaiters.append(streamID)
            }
            return .mustWait(.outbound)
        }
        let reservation = state.reserveSend(
            wantedBytes: wantedBytes, maxFrameBytes: configuration.maxFrameBytes, finishing: finishing)
        store(state, streamID: streamID)
        switch reservation {
        case .frame(let byteCount, let fin, let closed):
            if closed {
                removeStream(streamID, ending: .closed)
                emit(.streamClosed(streamID: streamID))
            }
            return .send(.data(streamID: streamID, flags: fin ? .fin : [], payloadBytes: byteCount))
        case .mustWait:
            return .mustWait(.window)
        case .writeClosed:
            return .failed(MuxError(.streamClosed, streamID: streamID))
        }
    }

    /// Closes this side's write half: queues WindowUpdate|FIN (yamux's `Close`). Closing twice is
    /// harmless; closing an unknown stream does nothing, since it is already gone.
    @inlinable public mutating func closeWrite(streamID: UInt32) {
        guard failure == nil, var state = streams[streamID] else { return }
        let result = state.closeWrite()
        store(state, streamID: streamID)
        switch result {
        case .sendFin:
            sendControl(.windowUpdate(streamID: streamID, flags: .fin, deltaBytes: 0))
        case .sendFinAndClose:
            sendControl(.windowUpdate(streamID: streamID, flags: .fin, deltaBytes: 0))
            removeStream(streamID, ending: .closed)
            emit(.streamClosed(streamID: streamID))
        case .alreadyClosed:
            break
        }
    }

    /// Resets a stream: queues WindowUpdate|RST and forgets the stream at once. No action reports
    /// it, since the caller asked for it.
    @inlinable public mutating func resetStream(streamID: UInt32) {
        guard failure == nil, streams[streamID] != nil else { return }
        sendControl(.windowUpdate(streamID: streamID, flags: .rst, deltaBytes: 0))
        removeStream(streamID, ending: nil)
    }

    /// Reports that the application consumed — read, or dropped unread — `byteCount` delivered
    /// bytes of a stream, which may queue a WindowUpdate (see ``ReceiveWindow``). Report every
    /// delivered byte exactly once, also for streams that are gone: until then it counts against
    /// ``MuxConfiguration/maxBufferedBytes``.
    ///
    /// A due update is sent only if the session's buffered bytes, the credit it granted and the
    /// peer has not used yet, and this credit stay within the budget; otherwise it waits, behind
    /// the updates already waiting, until reads on any stream make room.
    @inlinable public mutating func consumed(streamID: UInt32, byteCount: Int, nowNanoseconds: UInt64) {
        guard failure == nil, byteCount > 0 else { return }
        precondition(byteCount <= Int(UInt32.max), "consumed byte count out of range")
        _bufferedBytes -= min(bufferedBytes, UInt64(byteCount))
        if var state = streams[streamID] {
            // Updates already waiting go first: this one may take the room now only if none waits.
            let update = state.consume(
                UInt32(byteCount),
                nowNanoseconds: nowNanoseconds,
                rttNanoseconds: configuration.windowAutoTuning ? rttNanoseconds : nil,
                budgetBytes: receiveBudgetRemainingBytes,
                limitBytes: withheldUpdates.isEmpty ? bufferLimitRemainingBytes : 0
            )
            if update == nil, state.isUpdateDue, !state.updateWithheld {
                state.updateWithheld = true
                withheldUpdates.append(streamID)
            }
            store(state, streamID: streamID)
            if let update { sendUpdate(update, streamID: streamID) }
        }
        if !withheldUpdates.isEmpty { grantWithheldUpdates(nowNanoseconds: nowNanoseconds) }
    }

    /// Credit that may still be granted before the buffered bytes, the credit granted and not used
    /// yet, and it pass the budget.
    @inlinable var bufferLimitRemainingBytes: UInt64 {
        let committed = bufferedBytes + grantedCreditBytes
        return configuration.maxBufferedBytes - min(configuration.maxBufferedBytes, committed)
    }

    @inlinable mutating func sendUpdate(_ update: ReceiveWindow.Update, streamID: UInt32) {
        _receiveBudgetRemainingBytes -= update.budgetTakenBytes
        sendControl(.windowUpdate(streamID: streamID, deltaBytes: update.deltaBytes))
    }

    /// Sends the withheld updates that fit now, oldest first. One that still does not fit keeps
    /// waiting without holding back smaller ones behind it; entries of streams that are gone or
    /// were granted meanwhile are dropped, so each stream is listed at most once.
    @inlinable mutating func grantWithheldUpdates(nowNanoseconds: UInt64) {
        var waiting: [UInt32] = []
        for streamID in withheldUpdates {
            guard var state = streams[streamID], state.updateWithheld else { continue }
            let update = state.grantDueUpdate(
                nowNanoseconds: nowNanoseconds,
                rttNanoseconds: configuration.windowAutoTuning ? rttNanoseconds : nil,
                budgetBytes: receiveBudgetRemainingBytes,
                limitBytes: bufferLimitRemainingBytes)
            if update == nil, state.isUpdateDue {
                waiting.append(streamID)
                continue
            }
            state.updateWithheld = false
            store(state, streamID: streamID)
            if let update { sendUpdate(update, streamID: streamID) }
        }
        withheldUpdates = waiting
    }
}
