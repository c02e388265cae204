import TetherReactor

// The writer: no task. Queuing a frame schedules a flush after the reactor's current jobs, so
// every frame those jobs queue leaves in one gathered `sendmsg`; the send's completion schedules
// the next flush.
extension MuxSession {
    /// Frames were queued: send them soon, unless a send is in flight (its completion will).
    func wakeWriter() {
        guard !flushScheduled, !sendInFlight, writerRunning else { return }
        flushScheduled = true
        reactor.callSoon(SessionEvents(session: self, work: .flush))
    }

    /// Sends every queued frame, in the state machine's wire order, in one gathered send; ends the
    /// writer once the session has failed and nothing is left to send.
    func flush() {
        flushScheduled = false
        guard !sendInFlight, writerRunning else { return }
        guard ask({ $0.hasOutbound }) else {
            if failure != nil { endWriter() }
            return
        }
        var batch: [BufferSlice] = []
        batch.reserveCapacity(ask({ $0.outbound.queuedItemCount }))
        state.takeOutbound(nowNanoseconds: nowNanoseconds) { item in
            switch item {
            case .header(let header):
                batch.append(headerArena.slice(for: header))
                counters.framesSent += 1
                if header.type == .data { counters.payloadBytesSent += UInt64(header.length) }
            case .payload(let chunk):
                batch.append(chunk)
            }
        }
        counters.socketSends += 1
        do {
            try socket.startSending(batch, to: SessionEvents(session: self, work: .send))
            sendInFlight = true
        } catch {
            endWriter()
            if failure == nil { fail(Self.connectionFailure(error)) }
        }
    }

    /// A gathered send finished: the state machine learns that the connection took the frames
    /// (writers waiting for room, a paused input may go on), and the next batch goes out.
    func sent(_ result: Result<Void, any Error>) {
        sendInFlight = false
        if case .failure(let error) = result {
            endWriter()
            if failure == nil { fail(Self.connectionFailure(error)) }
            return
        }
        state.outboundWritten(nowNanoseconds: nowNanoseconds)
        drainActions()
        resumeInput()
        wakeWriter()
    }

    /// Part of the batch in flight went out: the write is slow, not stalled.
    func sendProgressed() {
        state.outboundProgressed(nowNanoseconds: nowNanoseconds)
    }

    private func endWriter() {
        guard writerRunning else { return }
        writerRunning = false
        // After a failure the timer only watched the last writes: it is done too.
        if failure != nil { tickerTask?.cancel() }
        loopEnded()
    }

    /// The peer stopped reading: shut the socket down so the write in flight fails and the
    /// session can end.
    func abortConnection() {
        socket.abort()
    }
}
