import TetherReactor

// The writer: no task. Queuing a frame schedules a flush after the reactor's current jobs, so
// every frame those jobs queue leaves in one gathered `sendmsg`; the send's completion schedules
// the next flush. (A writer task cost a job to resume per batch, on every round trip.)
extension MuxSession {
    /// Frames were queued: send them soon, unless a send is in flight (its completion will).
    func wakeWriter() {
        guard !flushScheduled, !sendInFlight, writerRunning else { return }
        flushScheduled = true
        reactor.callSoon(SessionEvents(session: self, work: .flush))
    }

    /// Sends every queued frame, control frames first, in one gathered send; ends the writer
    /// once the session has failed and nothing is left to send.
    func flush() {
        flushScheduled = false
        guard !sendInFlight, writerRunning else { return }
        if outboundControl.isEmpty && outboundData.isEmpty {
            if failure != nil { endWriter() }
            return
        }
        let batch = outboundControl + outboundData
        outboundControl.removeAll(keepingCapacity: true)
        outboundData.removeAll(keepingCapacity: true)
        counters.socketSends += 1
        do {
            try socket.startSending(batch, to: SessionEvents(session: self, work: .send))
            sendInFlight = true
        } catch {
            endWriter()
            if failure == nil { fail(MuxError(.connectionClosed)) }
        }
    }

    /// A gathered send finished.
    func sent(_ result: Result<Void, any Error>) {
        sendInFlight = false
        if case .failure = result {
            endWriter()
            if failure == nil { fail(MuxError(.connectionClosed)) }
            return
        }
        wakeWriter()
    }

    private func endWriter() {
        guard writerRunning else { return }
        writerRunning = false
        loopEnded()
    }
}
