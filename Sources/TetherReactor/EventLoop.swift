import CLibUring
import Glibc
import TetherCollections

/// The reactor thread's state and its loop: run jobs, submit, wait, dispatch completions.
///
/// Created on the reactor thread (the ring must be) and touched only there.
@safe final class EventLoop: @unsafe @unchecked Sendable {
    // SAFETY: created on the reactor thread and used there only (`Reactor.currentLoop` checks);
    // the conformance lets operation closures that never leave the thread capture it.
    unowned(unsafe) let reactor: Reactor
    var ring: Ring
    var table: OperationTable
    let pool: ProvidedBufferPool
    var jobs = FIFO<ReactorJob>()
    /// Calls queued by `Reactor.callSoon`, made after the jobs of each iteration.
    var callbacks = FIFO<any ReactorCallback>()
    var counters = ReactorCounters()
    /// How long to poll before sleeping (adapts; see `SpinPolicy`).
    private var spin: SpinPolicy
    /// Receivers whose multishot ended with ENOBUFS; re-armed when buffers come back.
    var starvedReceivers: [ReceiveQueue] = []
    /// Buffers came back while receivers were starved; they are woken at the next loop turn.
    private var starvedWakePending = false
    /// Handles that are open; closed by shutdown if the user has not.
    var openHandles: [ObjectIdentifier: any LoopHandle] = [:]
    private var shutdownWaiters: [UnsafeContinuation<Void, Never>] = unsafe []
    private var wakeUserData: UInt64 = 0
    private var remoteMayHaveItems = true
    /// Reused between drains so taking remote items allocates nothing once warm.
    private var remoteScratch = FIFO<RemoteQueue.Item>()
    /// Where the loop is in its life; see ``LoopPhase``.
    private(set) var phase = LoopPhase.running
    let configuration: ReactorConfiguration

    init(reactor: Reactor) throws(ReactorError) {
        unsafe self.reactor = reactor
        configuration = reactor.configuration
        spin = SpinPolicy(
            maxNanoseconds: configuration.spinBeforeSleepNanoseconds, processors: allowedProcessorCount())
        ring = try Ring(entries: configuration.ringEntries)
        table = try OperationTable(
            capacity: configuration.maxInFlightOperations + 1, iovecsPerSlot: configuration.maxIovecsPerSend)
        pool = try unsafe ProvidedBufferPool(
            ring: ring.pointer, groupID: 0, count: configuration.receiveBufferCount,
            bufferBytes: configuration.receiveBufferBytes, reactor: reactor)
        armWakeUp()
    }

    // MARK: The loop

    func run() {
        while true {
            counters.loopIterations += 1
            if counters.loopIterations & Self.metricsTurnMask == 0 { publishMetricsIfDue() }
            drainRemote()
            runJobs()
            if !callbacks.isEmpty { runCallbacks() }
            if starvedWakePending { wakeStarvedReceivers() }
            if stopping, readyToExit() { break }
            // Sleep in the kernel only when nothing is runnable (and polling a little found
            // nothing); otherwise just submit and collect.
            let idle = jobs.isEmpty && callbacks.isEmpty && completionExpected
            if idle, spin.nanoseconds > 0, pollBeforeSleeping() { continue }
            let sleepStart = idle ? ContinuousClock.now : nil
            if let sleepStart { publishMetrics(ifDueAt: sleepStart) }
            let result = ring.submit(wait: idle)
            if let sleepStart {
                counters.sleeps += 1
                spin.slept((ContinuousClock.now - sleepStart).clampedNanoseconds)
            }
            counters.enterCalls += 1
            if result > 0 { counters.submissions += UInt64(result) }
            reapCompletions()
        }
        finish()
    }

    private func reapCompletions() {
        let reaped = ring.reap { userData, result, flags in
            self.dispatch(userData: userData, result: result, flags: flags)
        }
        counters.completions += UInt64(reaped)
    }

    /// Enters the kernel without sleeping until a completion or posted work arrives or the spin
    /// time is over. True when something arrived (the loop goes round again instead of sleeping).
    private func pollBeforeSleeping() -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .nanoseconds(Int64(clamping: spin.nanoseconds)))
        repeat {
            let result = ring.submit(wait: false)
            counters.enterCalls += 1
            if result > 0 { counters.submissions += UInt64(result) }
            let before = counters.completions
            reapCompletions()
            if unsafe counters.completions != before || !jobs.isEmpty || !callbacks.isEmpty || reactor.isWakePending {
                return true
            }
        } while clock.now < deadline
        return false
    }

    private func runJobs() {
        var budget = configuration.maxJobsPerIteration
        let serial = unsafe reactor.unownedSerialExecutor
        let task = unsafe reactor.asUnownedTaskExecutor()
        while budget > 0, let job = jobs.popFirst() {
            unsafe job.run(serial: serial, task: task)
            counters.jobsRun += 1
            budget -= 1
        }
    }

    /// Makes the queued `callSoon` calls, including those the calls themselves queue.
    private func runCallbacks() {
        while let callback = callbacks.popFirst() { callback.reactorCallback() }
    }

    /// Takes what other threads posted. The lock is taken only when something may be there: a
    /// poster sets `wakePending` after appending, and the eventfd completion sets
    /// `remoteMayHaveItems` before clearing it, so a posted item is always followed by one of the two.
    private func drainRemote() {
        guard unsafe remoteMayHaveItems || reactor.isWakePending else { return }
        remoteMayHaveItems = false
        unsafe reactor.withRemoteQueue { queue in
            while let item = queue.items.popFirst() { remoteScratch.append(item) }
        }
        while let item = remoteScratch.popFirst() {
            switch item {
            case .job(let job): jobs.append(job)
            case .cancel(let userData): cancel(userData)
            case .recycle(let bufferID): recycle(bufferID)
            case .action(let action): action.body()
            case .callback(let callback): callbacks.append(callback)
            case .shutdown(let continuation):
                unsafe shutdownWaiters.append(continuation)
                beginShutdown()
            }
        }
    }

    // MARK: Completions

    /// Routes one CQE to whoever waits for it. The only place completions are interpreted.
    private func dispatch(userData: UInt64, result: Int32, flags: UInt32) {
        guard userData != OperationTable.ignoredUserData, let index = table.index(of: userData) else { return }
        var completion = Completion(result: result, flags: flags)
        // A no-op standing in for an operation that a fault injector failed: its errno instead.
        if table[index].injectedResult != 0 { completion = Completion(result: table[index].injectedResult, flags: 0) }
        let operation = table[index].operation
        switch operation {
        case .sendMessage, .writeVector:
            if completion.result > 0 { counters.bytesOut += UInt64(completion.result) }
        case .receiveMultishot, .readSelected, .receiveInto:
            if completion.result > 0 {
                counters.bytesIn += UInt64(completion.result)
                if let injector = configuration.faultInjector {
                    completion.pieceBytes = receivePieceBytes(injector, operation)
                }
            }
        case .waitForExit:
            if completion.result >= 0 { completion.exit = unsafe ExitStatus(siginfo: table.scratch(at: index)) }
        default:
            break
        }
        let target = table[index].target
        // A multishot CQE with MORE leaves the slot in use for the next one.
        if !completion.hasMore { table.release(index) }
        switch target {
        case .none:
            break
        case .continuation(let continuation):
            unsafe continuation.resume(returning: completion)
        case .receiver(let queue):
            queue.complete(completion)
        case .acceptor(let queue):
            queue.complete(completion)
        case .sender(let send):
            send.complete(completion, loop: self)
        case .callback(let callback):
            callback.operationCompleted(completion, loop: self)
        case .wakeUp:
            remoteMayHaveItems = true
            unsafe reactor.wakeObserved()
            counters.crossThreadWakeups += 1
            if phase == .releasingWakeUp {
                phase.advance(to: .wakeUpReleased)
            } else {
                armWakeUp()
            }
        }
    }

    private func armWakeUp() {
        guard let userData = unsafe table.reserve(.readEventCounter(fd: reactor.wakeFD)) else {
            preconditionFailure("no slot for the wake-up read")
        }
        wakeUserData = userData
        submit(userData, target: .wakeUp)
    }

    // MARK: Submitting

    /// Prepares the SQE for the reserved slot `userData` and records who waits for it.
    /// The SQE reaches the kernel at the next `io_uring_enter` (end of this loop iteration).
    func submit(_ userData: UInt64, target: CompletionTarget) {
        guard let index = table.index(of: userData) else { preconditionFailure("submit of a stale slot") }
        table[index].target = target
        table[index].inFlight = true
        let sqe = unsafe ring.nextSubmission { counters.submissionQueueFull += 1 }
        if let injector = configuration.faultInjector, unsafe prepareWithFaults(injector, sqe, index: index) {
            // Prepared as the injector decided: a no-op standing in for a failure, or a short send.
        } else {
            unsafe table[index].operation.prepare(
                sqe, scratch: table.scratch(at: index), iovecs: table.iovecs(at: index))
        }
        unsafe io_uring_sqe_set_data64(sqe, userData)
    }

    /// Reserves a slot for an operation with no task waiting on it (receivers, acceptors).
    /// Returns nil when shutting down or when every slot is in use.
    func start(_ operation: Operation, target: CompletionTarget, setUp: (Int) -> Void = { _ in }) -> UInt64? {
        guard !stopping, let userData = table.reserve(operation), let index = table.index(of: userData) else {
            return nil
        }
        setUp(index)
        submit(userData, target: target)
        return userData
    }

    /// Asks the kernel to cancel `userData` if it is still in flight; a stale request is ignored.
    func cancel(_ userData: UInt64) {
        guard let index = table.index(of: userData), table[index].inFlight else { return }
        let sqe = unsafe ring.nextSubmission { counters.submissionQueueFull += 1 }
        unsafe Operation.cancel(target: userData, all: false).prepare(
            sqe, scratch: table.scratch(at: index), iovecs: table.iovecs(at: index))
        unsafe io_uring_sqe_set_data64(sqe, OperationTable.ignoredUserData)
    }

    /// Asks the kernel to cancel every operation in flight on `fd` (sends, receives, a connect),
    /// whichever task or queue started them.
    func cancelOperations(onFileDescriptor fd: Int32) {
        let sqe = unsafe ring.nextSubmission { counters.submissionQueueFull += 1 }
        // The cancel reads nothing from a slot: slot 0's scratch and iovecs are passed only
        // because `prepare` takes them.
        unsafe Operation.cancelFileDescriptor(fd: fd).prepare(
            sqe, scratch: table.scratch(at: 0), iovecs: table.iovecs(at: 0))
        unsafe io_uring_sqe_set_data64(sqe, OperationTable.ignoredUserData)
    }

    // MARK: Buffers

    /// Puts a released buffer back into the ring. Starved receivers are woken later, from the
    /// loop: a release runs inside whatever dropped the last slice (a receive queue emptying its
    /// own FIFO, say), so calling back into receive queues from here would re-enter them.
    func recycle(_ bufferID: UInt16) {
        pool.recycle(bufferID)
        if !starvedReceivers.isEmpty { starvedWakePending = true }
    }

    /// Puts back a buffer a completion names without bytes in it (see
    /// ``ProvidedBufferPool/putBack(_:)``); starved receivers are woken as for a recycled one.
    func putBackUnfilled(_ bufferID: UInt16) {
        pool.putBack(bufferID)
        if !starvedReceivers.isEmpty { starvedWakePending = true }
    }

    /// `receiver` found the buffer ring empty: it is woken when buffers come back. Buffers
    /// released between the kernel's `ENOBUFS` and this completion woke nobody (no receiver was
    /// starved yet), and no later release may come: if some are back already, it is woken at the
    /// next loop turn.
    func receiverStarved(_ receiver: ReceiveQueue) {
        starvedReceivers.append(receiver)
        if pool.lentCount < pool.bufferCount { starvedWakePending = true }
    }

    private func wakeStarvedReceivers() {
        starvedWakePending = false
        guard !starvedReceivers.isEmpty else { return }
        let starved = starvedReceivers
        starvedReceivers.removeAll(keepingCapacity: true)
        for receiver in starved { receiver.buffersAvailable() }
    }

    func snapshotCounters() -> ReactorCounters {
        var snapshot = counters
        snapshot.operationsInFlight = table.inFlightCount - (phase.wakeUpInFlight ? 1 : 0)  // not the user's
        snapshot.buffersLent = pool.lentCount
        return snapshot
    }

    // MARK: Shutdown

    /// True from the start of shutdown: new operations are refused, in-flight ones are being
    /// cancelled, and a cancelled operation's waiter gets `shutDown`.
    var stopping: Bool { phase != .running }

    /// True once the loop has returned; late work goes to the fallback queue.
    var exited: Bool { phase == .exited }

    private func beginShutdown() {
        guard phase == .running else { return }
        phase.advance(to: .draining)
        for index in table.inFlightIndices() {
            let userData = table.userData(at: index)
            if userData != wakeUserData { cancel(userData) }
        }
        for receiver in starvedReceivers { receiver.fail(ReactorError(.shutDown, operation: "recv")) }
        starvedReceivers.removeAll()
    }

    /// False only while draining with nothing but the wake-up read left: then the loop keeps
    /// turning, without sleeping, to close the handles and stop the wake-up read.
    private var completionExpected: Bool {
        phase != .draining || table.inFlightCount > 1
    }

    /// Shutdown ends in three steps once no job is left: wait until only the wake-up read is in
    /// flight; close the handles still open; stop taking remote work and cancel the wake-up read,
    /// and wait for its completion, after which the kernel writes nothing into our memory.
    private func readyToExit() -> Bool {
        let wakeUpReads = phase.wakeUpInFlight ? 1 : 0
        guard jobs.isEmpty, callbacks.isEmpty, table.inFlightCount == wakeUpReads else { return false }
        if !openHandles.isEmpty {
            let handles = Array(openHandles.values)
            openHandles.removeAll()
            for handle in handles { handle.closeForShutdown() }
            return false
        }
        switch phase {
        case .draining:
            let closed = unsafe reactor.withRemoteQueue { queue in
                guard queue.items.isEmpty else { return false }
                queue.loopExited = true
                return true
            }
            if closed {
                phase.advance(to: .releasingWakeUp)
                cancel(wakeUserData)
            }
            return false
        case .releasingWakeUp:
            return false
        case .wakeUpReleased:
            return true
        case .running, .exited:
            preconditionFailure("readyToExit in phase \(phase)")
        }
    }

    private func finish() {
        publishFinalMetrics()
        phase.advance(to: .exited)
        pool.retired.store(true, ordering: .releasing)
        // Release the kernel side now: the ring fd must be gone when `shutdown()` returns, even
        // if something still references this object.
        ring.exit()
        unsafe shutdownWaiters.forEach { unsafe $0.resume() }
        unsafe shutdownWaiters.removeAll()
    }
}

/// Where an event loop is in its life. It only moves forward, one step at a time
/// (``advance(to:)`` checks), from ``running`` to ``exited``.
enum LoopPhase: Equatable, CaseIterable {
    /// Operations start; the wake-up read is in flight and armed again after each completion.
    case running
    /// Shutdown began: new operations are refused and the ones in flight were asked to cancel.
    /// The wake-up read stays armed, as other threads may still post work.
    case draining
    /// Nothing but the wake-up read was left and the remote queue is closed to other threads;
    /// the wake-up read was cancelled and its completion is awaited.
    case releasingWakeUp
    /// The wake-up read has completed: nothing is in flight; the loop returns.
    case wakeUpReleased
    /// The loop has returned and the ring is closed.
    case exited

    /// The wake-up read is in the kernel (or about to be armed again by its completion).
    var wakeUpInFlight: Bool { self == .running || self == .draining || self == .releasingWakeUp }

    /// Whether `next` is the phase that follows this one.
    func isFollowed(by next: LoopPhase) -> Bool {
        switch (self, next) {
        case (.running, .draining), (.draining, .releasingWakeUp), (.releasingWakeUp, .wakeUpReleased),
            (.wakeUpReleased, .exited):
            true
        default: false
        }
    }

    /// Moves to `next`, the phase that follows this one.
    mutating func advance(to next: LoopPhase) {
        precondition(isFollowed(by: next), "event loop phase \(self) cannot move to \(next)")
        self = next
    }
}

/// A handle the reactor closes at shutdown if its user did not.
protocol LoopHandle: AnyObject {
    func closeForShutdown()
}

/// An object the loop tells of the completion of an operation it started with target
/// `.callback`. Reactor thread only, called from the loop outside any job.
protocol OperationCallback: AnyObject {
    func operationCompleted(_ completion: Completion, loop: EventLoop)
}
