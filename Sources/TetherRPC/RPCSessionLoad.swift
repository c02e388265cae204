import Synchronization
import TetherReactor

/// One session's calls in an ``RPCServer``: their slots, the budget of their arriving messages
/// and the deadlines of their call messages, shared by the server's accept loop and its calls.
/// The decisions are ``RPCSessionLoadState``'s; this class keeps it behind a mutex, parks and
/// resumes the tasks waiting for a slot, and runs the one task per session that fails calls
/// whose call message is overdue.
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
    private let reactor: Reactor
    private let callMessageTimeoutNanoseconds: UInt64?
    private let clock = ContinuousClock()
    private let startInstant: ContinuousClock.Instant

    init(configuration: RPCConfiguration, reactor: Reactor) {
        self.locked = Mutex(
            Locked(
                state: RPCSessionLoadState(
                    maxConcurrentCalls: configuration.maxConcurrentCallsPerSession,
                    maxIncomingMessageBytes: configuration.maxIncomingMessageBytesPerSession)))
        self.reactor = reactor
        self.callMessageTimeoutNanoseconds = configuration.callMessageTimeout?.clampedNanoseconds
        self.startInstant = clock.now
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
                    // Checked under the lock, like the cancellation handler: either it sees the
                    // waiter stored here, or this sees the cancellation.
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
            // Nobody waits (the common case): nothing to build.
            guard handedTo != nil || !room.isEmpty else { return [] }
            return ([handedTo].compactMap { $0 } + room).compactMap { locked.slotWaiters.removeValue(forKey: $0) }
        }
        for waiter in waiters { waiter.resume(returning: true) }
    }

    // MARK: Call-message deadlines

    private var nowNanoseconds: UInt64 { (clock.now - startInstant).clampedNanoseconds }

    /// Starts the call-message deadline of the call `control` controls: when it passes first,
    /// the call is cancelled and reports ``RPCError/Code-swift.struct/callMessageTimeout``.
    /// Returns the key to end the wait with, nil when no timeout is configured.
    ///
    /// Every call of the session has the same timeout and the clock is monotonic, so a new
    /// deadline is never earlier than those the sweeping task already sleeps towards.
    func awaitCallMessage(_ control: RPCCallControl) -> UInt64? {
        guard let timeout = callMessageTimeoutNanoseconds else { return nil }
        let deadline = nowNanoseconds &+ timeout
        let (key, startSweeping) = locked.withLock { locked in
            let key = locked.makeKey()
            return (key, locked.state.awaitCallMessage(key: key, control: control, deadlineNanoseconds: deadline))
        }
        if startSweeping { Task(executorPreference: reactor) { await self.sweep() } }
        return key
    }

    func callMessageWaitEnded(_ key: UInt64?) {
        guard let key else { return }
        locked.withLock { $0.state.callMessageWaitEnded(key: key) }
    }

    func countCallMessageTimeout() {
        locked.withLock { $0.state.countCallMessageTimeout() }
    }

    /// Fails overdue calls, sleeping until the next look (see
    /// ``RPCSessionLoadState/takeOverdueCalls(nowNanoseconds:)``); ends a timeout after the last
    /// call. One task per session, not one timer per call: a call whose message arrives in its
    /// first chunk (nearly all) costs two dictionary updates under the lock.
    private func sweep() async {
        while true {
            let now = nowNanoseconds
            let (overdue, nextLook) = locked.withLock { $0.state.takeOverdueCalls(nowNanoseconds: now) }
            for control in overdue { control.expireCallMessageDeadline() }
            guard let nextLook else { return }
            do {
                try await reactor.sleep(for: .nanoseconds(Int64(clamping: nextLook - min(nextLook, nowNanoseconds))))
            } catch {
                // The reactor is shutting down; its sessions' calls end with it.
                locked.withLock { $0.state.sweepingStopped() }
                return
            }
        }
    }

    // MARK: Incoming messages

    /// Counts `bytes` for a message that is arriving, or throws
    /// ``RPCError/Code-swift.struct/resourceExhausted`` when they do not fit.
    func reserveIncoming(_ bytes: Int) throws(RPCError) {
        let refusal = locked.withLock { locked -> (held: Int, limit: Int)? in
            if locked.state.reserveIncoming(bytes) { return nil }
            return (locked.state.incomingMessageBytes, locked.state.maxIncomingMessageBytes)
        }
        guard let refusal else { return }
        throw RPCError(
            .resourceExhausted,
            "a \(bytes)-byte message does not fit beside the \(refusal.held) bytes of messages arriving on this "
                + "session (maxIncomingMessageBytesPerSession: \(refusal.limit))")
    }

    func releaseIncoming(_ bytes: Int) {
        locked.withLock { $0.state.releaseIncoming(bytes) }
    }
}

/// One call's share of its session's budget for arriving messages: what the call's message
/// reader has counted for the message it is receiving. The reader reserves when a message needs
/// more bytes than it has read and releases when the message is complete; the server closes the
/// budget when the call ends, releasing what a message cut short still held.
final class RPCMessageBudget: Sendable {
    private struct State {
        var reservedBytes: Int?
        var closed = false
    }

    private let load: RPCSessionLoad
    private let state = Mutex(State())

    init(load: RPCSessionLoad) {
        self.load = load
    }

    /// Counts a message of `bodyBytes` that is arriving, unless it is counted already.
    ///
    /// - Throws: ``RPCError/Code-swift.struct/resourceExhausted`` when it does not fit (or the
    ///   call has ended).
    func reserve(forMessageOf bodyBytes: Int) throws(RPCError) {
        let needed = try state.withLock { state throws(RPCError) -> Bool in
            if state.closed { throw RPCError(.resourceExhausted, "the call has ended") }
            return state.reservedBytes == nil
        }
        guard needed else { return }
        try load.reserveIncoming(bodyBytes)
        let late = state.withLock { state -> Bool in
            if state.closed { return true }
            state.reservedBytes = bodyBytes
            return false
        }
        if late {
            load.releaseIncoming(bodyBytes)
            throw RPCError(.resourceExhausted, "the call has ended")
        }
    }

    /// The message being received is complete (or there was none): its count is released.
    func messageCompleted() {
        if let bytes = state.withLock({ $0.reservedBytes.take() }) { load.releaseIncoming(bytes) }
    }

    /// The call ended: releases what its message still held; later reservations fail.
    func close() {
        let bytes = state.withLock { state in
            state.closed = true
            return state.reservedBytes.take()
        }
        if let bytes { load.releaseIncoming(bytes) }
    }

    deinit {
        close()
    }
}
