import Synchronization
import TetherMux
import TetherReactor

/// A caller's deadline for one call: when the reactor timer fires, it records that the deadline
/// passed and resets the call's stream, which ends the caller's wait.
final class RPCDeadlineTimer: ReactorTimerHandler {
    private let expired = Atomic<Bool>(false)
    private let stream: MuxStream

    init(resetting stream: MuxStream) {
        self.stream = stream
    }

    /// Marks the deadline as passed before the reset, so the failure the reset causes is read as
    /// the deadline's.
    func timerFired() {
        expired.store(true, ordering: .releasing)
        stream.resetSoon()
    }

    var hasExpired: Bool { expired.load(ordering: .acquiring) }
}
