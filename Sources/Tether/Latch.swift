import Synchronization
import TetherMux
import TetherReactor

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

/// A session's close, started at once in a task of its own, whose end can be awaited within a
/// bound: closing waits for a send in flight, which a plugin that stopped reading lets finish
/// only when the session's write timeout gives up on it.
struct SessionClosing: Sendable {
    private let closed = Latch()

    /// Starts closing `session`; with no session, there is nothing to wait for.
    ///
    /// With a `request` (the quit request on the control stream), that is sent first and the
    /// plugin given up to `bound` to end the session itself: closing at once could end the
    /// session before the plugin has even accepted the stream the request is on.
    init(
        _ session: MuxSession?, on reactor: Reactor, after request: (@Sendable () async -> Void)? = nil,
        waitingUpTo bound: Duration = .zero
    ) {
        guard let session else {
            closed.open()
            return
        }
        let closed = self.closed
        Task(executorPreference: reactor) {
            if let request {
                await request()
                let ended = Latch()
                Task(executorPreference: reactor) {
                    await session.waitUntilFinished()
                    ended.open()
                }
                _ = try? await reactor.withDeadline(bound) { try await ended.waitUnlessCancelled() }
            }
            await session.close()
            closed.open()
        }
    }

    /// Waits at most `bound` for the close to end; it goes on in the background after that.
    func wait(within bound: Duration, on reactor: Reactor) async {
        let closed = self.closed
        _ = try? await reactor.withDeadline(bound) { try await closed.waitUnlessCancelled() }
    }
}
