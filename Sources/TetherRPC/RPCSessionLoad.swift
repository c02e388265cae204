import Synchronization

/// One session's calls in an ``RPCServer``: their slots, shared by the server's accept loop and
/// its calls. The decisions are ``RPCSessionLoadState``'s; this class keeps it behind a mutex,
/// parks and resumes the tasks waiting for a slot.
final class RPCSessionLoad: Sendable {
    private struct Locked {
        var state: RPCSessionLoadState
        var slotWaiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
        var nextKey: UInt64 = 0

        mutating func makeKey() -> UInt64 {
            nextKey += 1
            return nextKey
        }
    }

    private let locked: Mutex<Locked>

    init(configuration: RPCConfiguration) {
        self.locked = Mutex(
            Locked(
                state: RPCSessionLoadState(maxConcurrentCalls: configuration.maxConcurrentCallsPerSession)))
    }

    var snapshot: RPCServerSessionLoad { locked.withLock { $0.state.snapshot } }

    // MARK: Call slots

    /// Takes a call slot, waiting (first come, first served) while every slot is taken.
    /// False when the task was cancelled while it had to wait: no slot was taken.
    func startCall() async -> Bool {
        // Without suspending when a slot is free (the common case): a continuation costs a job.
        if locked.withLock({ $0.state.startCallIfRoom() }) { return true }
        return await waitForSlot { state, key in state.startCall(waiter: key) }
    }

    /// Waits until a call could start, without taking a slot. False when the task is
    /// cancelled (before or while waiting).
    func waitForRoom() async -> Bool {
        if Task.isCancelled { return false }
        if locked.withLock({ $0.state.hasRoom }) { return true }
        return await waitForSlot { state, key in state.hasRoom(waiter: key) }
    }

    /// Asks `ask` (which queues the key when the answer is no), then waits until ``endCall()``
    /// resumes the key or the task is cancelled.
    private func waitForSlot(_ ask: @Sendable (inout RPCSessionLoadState, UInt64) -> Bool) async -> Bool {
        let key = locked.withLock { $0.makeKey() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let answer = locked.withLock { locked -> Bool? in
                    // Checked under the lock: a cancellation handler that ran before this found
                    // nothing to resume, and one that runs after finds the waiter.
                    if Task.isCancelled { return false }
                    if ask(&locked.state, key) { return true }
                    locked.slotWaiters[key] = continuation
                    return nil
                }
                if let answer { continuation.resume(returning: answer) }
            }
        } onCancel: {
            let waiter = locked.withLock { locked -> CheckedContinuation<Bool, Never>? in
                guard locked.state.stopWaiting(key) else { return nil }
                return locked.slotWaiters.removeValue(forKey: key)
            }
            waiter?.resume(returning: false)
        }
    }

    /// A call ended: its slot goes to the next waiter for one; if none, those waiting for room
    /// are told.
    func endCall() {
        let waiters = locked.withLock { locked -> [CheckedContinuation<Bool, Never>] in
            let (handedTo, room) = locked.state.endCall()
            return ([handedTo].compactMap { $0 } + room).compactMap { locked.slotWaiters.removeValue(forKey: $0) }
        }
        for waiter in waiters { waiter.resume(returning: true) }
    }
}
