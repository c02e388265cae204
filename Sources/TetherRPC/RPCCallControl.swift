import Synchronization
import TetherReactor

/// Cancels a call's handler task from outside it: when the caller resets the stream, the
/// call's deadline passes, or its call message does not arrive in time. The task is attached
/// after it is created; a cancel that comes first is applied on attach. The handler of the
/// call's deadline timer: its firing expires the deadline.
final class RPCCallControl: ReactorTimerHandler {
    private struct State {
        var task: Task<Void, Never>?
        var cancelled = false
    }

    /// Where the call is with its call message: the deadline and the message's arrival race,
    /// and exactly one of them wins.
    private enum CallMessagePhase: UInt8, AtomicRepresentable {
        case awaited, arrived, timedOut
    }

    private let state = Mutex(State())
    private let deadlineExpired = Atomic<Bool>(false)
    private let callMessagePhase = Atomic<CallMessagePhase>(.awaited)

    func attach(_ task: Task<Void, Never>) {
        let cancelled = state.withLock { state in
            state.task = task
            return state.cancelled
        }
        if cancelled { task.cancel() }
    }

    func cancel() {
        let task = state.withLock { state in
            state.cancelled = true
            return state.task
        }
        task?.cancel()
    }

    func expireDeadline() {
        deadlineExpired.store(true, ordering: .releasing)
        cancel()
    }

    var hasDeadlineExpired: Bool { deadlineExpired.load(ordering: .acquiring) }

    func timerFired() { expireDeadline() }

    /// The call message arrived. False when its deadline won: the call is failed instead.
    func callMessageArrived() -> Bool {
        callMessagePhase.compareExchange(expected: .awaited, desired: .arrived, ordering: .acquiringAndReleasing)
            .exchanged
    }

    /// The call message's deadline passed: cancels the task (which is waiting for the message)
    /// unless the message arrived first.
    func expireCallMessageDeadline() {
        guard
            callMessagePhase.compareExchange(expected: .awaited, desired: .timedOut, ordering: .acquiringAndReleasing)
                .exchanged
        else { return }
        cancel()
    }

    var hasCallMessageTimedOut: Bool { callMessagePhase.load(ordering: .acquiring) == .timedOut }
}
