import TetherReactor

/// How the reactor calls a session back from its loop: received bytes, a finished send, work
/// deferred past the current job. Made per use and never stored by the session, so the reactor
/// holds the session only while it has something to report — as an awaiting task would.
final class SessionEvents: ReceiveHandler, SendHandler, ReactorCallback {
    enum Work {
        /// The socket's received bytes (`received`).
        case receive
        /// The completion of one gathered send (`sent`).
        case send
        /// Send what is queued (`flush`).
        case flush
        /// Release the streams whose handles were dropped (`releaseDropped`).
        case releaseDropped
    }

    let session: MuxSession
    let work: Work

    init(session: MuxSession, work: Work) {
        self.session = session
        self.work = work
    }

    func received(_ result: Result<BufferSlice?, any Error>) {
        session.reactor.runIsolated(session, result) { session, result in session.received(result) }
    }

    func sent(_ result: Result<Void, any Error>) {
        session.reactor.runIsolated(session, result) { session, result in session.sent(result) }
    }

    func sendProgressed() {
        session.reactor.runIsolated(session, ()) { session, _ in session.sendProgressed() }
    }

    func reactorCallback() {
        session.reactor.runIsolated(session, work) { session, work in
            switch work {
            case .flush: session.flush()
            case .releaseDropped: session.releaseDropped()
            case .receive, .send: preconditionFailure("\(work) is not deferred work")
            }
        }
    }
}
