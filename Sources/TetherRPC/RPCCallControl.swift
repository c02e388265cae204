import Synchronization

/// Cancels a call's handler task from outside it: when the caller resets the stream or the
/// call's deadline passes. The task is attached after it is created; a cancel that comes first
/// is applied on attach.
final class RPCCallControl: Sendable {
    private struct State {
        var task: Task<Void, Never>?
        var cancelled = false
    }

    private let state = Mutex(State())
    private let deadlineExpired = Atomic<Bool>(false)

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
}
