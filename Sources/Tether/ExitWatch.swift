import Synchronization
import TetherReactor

/// The one waiter on a plugin process's exit (a pidfd completion on the reactor), shared by every
/// task that wants to know: they wait here, with or without a time limit, instead of racing
/// several `waitid`s on one pidfd.
final class ExitWatch: Sendable {
    private struct State {
        var status: ExitStatus?
        var waiters: [UInt64: CheckedContinuation<ExitStatus?, Never>] = [:]
        var nextWaiter: UInt64 = 0
    }

    private let state = Mutex(State())
    private let reactor: Reactor

    /// Starts watching `process`; `onExit` runs once it has ended (and been reaped).
    init(_ process: ChildProcess, reactor: Reactor, onExit: @escaping @Sendable (ExitStatus) async -> Void) {
        self.reactor = reactor
        Task(executorPreference: reactor) { [self] in
            guard let status = try? await process.waitForExit() else { return }
            let waiters = state.withLock { state in
                state.status = status
                defer { state.waiters.removeAll() }
                return Array(state.waiters.values)
            }
            for waiter in waiters { waiter.resume(returning: status) }
            await onExit(status)
        }
    }

    /// The status if the process has ended.
    var status: ExitStatus? { state.withLock { $0.status } }

    /// The status once the process ends, or nil if `duration` passes first (or the reactor stops).
    func wait(atMost duration: Duration? = nil) async -> ExitStatus? {
        if let status { return status }
        let reactor = self.reactor
        return await withCheckedContinuation { continuation in
            let id: UInt64? = state.withLock { state in
                if state.status != nil { return nil }
                let id = state.nextWaiter
                state.nextWaiter += 1
                state.waiters[id] = continuation
                return id
            }
            guard let id else {
                continuation.resume(returning: status)
                return
            }
            guard let duration else { return }
            Task(executorPreference: reactor) { [self] in
                try? await reactor.sleep(for: duration)
                let timedOut = state.withLock { $0.waiters.removeValue(forKey: id) }
                timedOut?.resume(returning: nil)
            }
        }
    }
}
