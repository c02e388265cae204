import Synchronization

/// Opens once: tasks that wait before then resume when it opens, later ones at once. For "the
/// first caller does the work, every caller returns when it is done" (kill, shutdown), and for
/// waiting on work that ignores cancellation under a deadline (``waitUnlessCancelled()``).
final class Latch: Sendable {
    private struct State {
        var isOpen = false
        var waiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
        var nextWaiter: UInt64 = 0
    }
    private let state = Mutex(State())

    /// Returns once the latch is open, whatever happens to the waiting task.
    func wait() async {
        _ = await waitForOpen(cancellable: false)
    }

    /// Returns once the latch is open; throws `CancellationError` if the task is cancelled first.
    func waitUnlessCancelled() async throws {
        guard await waitForOpen(cancellable: true) else { throw CancellationError() }
    }

    /// True once open, false when cancelled first (only when `cancellable`).
    private func waitForOpen(cancellable: Bool) async -> Bool {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let immediate = state.withLock { state -> Bool? in
                    if state.isOpen { return true }
                    // Cancelled before registering: the handler found nothing to resume.
                    if cancellable && Task.isCancelled { return false }
                    state.waiters[id] = continuation
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            guard cancellable else { return }
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(returning: false)
        }
    }

    func open() {
        let waiters = state.withLock { state in
            state.isOpen = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: true) }
    }
}
