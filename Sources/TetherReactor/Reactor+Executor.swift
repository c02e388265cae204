import Dispatch
import Glibc

/// Marks a reactor's fallback queue, so isolation checks can recognise it.
let fallbackQueueKey = DispatchSpecificKey<ObjectIdentifier>()

/// A job for the loop and the role it was enqueued in.
///
/// The loop must run a job in the role it was enqueued for. A job run as isolated to the serial
/// executor while its task is in nonisolated code makes the runtime believe the task is still on
/// the actor: the next nonisolated async call then "switches" to the generic executor — another
/// enqueue and another job, several per RPC call.
struct ReactorJob {
    let job: UnownedJob
    /// Enqueued on ``ReactorSerialExecutor`` (an actor pinned to the reactor), not on the reactor
    /// as a task executor (a task preferring it, in nonisolated code).
    let isolated: Bool
}

extension Reactor: TaskExecutor {
    /// Runs `job` on the reactor thread as a task executor (a task that prefers the reactor, in
    /// nonisolated code). From the reactor thread this is a queue append; from other threads it
    /// takes the lock and wakes the loop. After shutdown, jobs still run one at a time on a
    /// fallback queue so that awaiting tasks can finish.
    public func enqueue(_ job: consuming ExecutorJob) {
        schedule(ReactorJob(job: UnownedJob(job), isolated: false))
    }

    func schedule(_ job: ReactorJob) {
        if isCurrentThread, let loop = loop, !loop.exited {
            loop.jobs.append(job)
            return
        }
        if !(post(.job(job))) { runAfterShutdown(job) }
    }

    private func runAfterShutdown(_ job: ReactorJob) {
        let serial = unsafe serialExecutor.asUnownedSerialExecutor()
        let task = unsafe asUnownedTaskExecutor()
        fallbackQueue.async { unsafe job.run(serial: serial, task: task) }
    }

    /// The executor of actors pinned to this reactor: `nonisolated var unownedExecutor:
    /// UnownedSerialExecutor { reactor.unownedSerialExecutor }` runs the actor on the reactor
    /// thread. The reactor lives until ``Reactor/shutdown()`` and beyond, as long as anything
    /// references it.
    @safe public var unownedSerialExecutor: UnownedSerialExecutor { unsafe serialExecutor.asUnownedSerialExecutor() }

    /// Same as ``unownedSerialExecutor``.
    public func asUnownedSerialExecutor() -> UnownedSerialExecutor { unownedSerialExecutor }

    public func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        unsafe UnownedTaskExecutor(ordinary: self)
    }

    /// True on the reactor thread, and after shutdown on the queue that stands in for it: where
    /// actors pinned to this reactor may run synchronously.
    public func isIsolatingCurrentContext() -> Bool {
        if isCurrentThread { return true }
        // dispatchPrecondition traps instead of answering; the queue carries a marker instead.
        return DispatchQueue.getSpecific(key: fallbackQueueKey) == ObjectIdentifier(self)
    }
}

extension ReactorJob {
    /// Runs the job in its role: isolated to the reactor's serial executor, or as a task
    /// executor's job in nonisolated code.
    func run(serial: UnownedSerialExecutor, task: UnownedTaskExecutor) {
        if isolated {
            unsafe job.runSynchronously(isolatedTo: serial, taskExecutor: task)
        } else {
            unsafe job.runSynchronously(on: task)
        }
    }
}

/// The reactor in its role as the serial executor of actors pinned to it (see
/// ``Reactor/unownedSerialExecutor``). A separate object from the ``Reactor`` (its task-executor
/// role) so that the loop knows which role each job was enqueued for (see `ReactorJob`).
final class ReactorSerialExecutor: SerialExecutor {
    // SAFETY: the reactor owns this object (and nothing else does), so the reactor outlives it.
    // `unowned(unsafe)`: a checked `unowned` costs an atomic retain and release on every job an
    // actor enqueues (`swift_unownedRetainStrong`, ~1 % of a reactor's time in the RPC profile).
    unowned(unsafe) let reactor: Reactor

    init(reactor: Reactor) {
        unsafe self.reactor = reactor
    }

    func enqueue(_ job: consuming ExecutorJob) {
        unsafe reactor.schedule(ReactorJob(job: UnownedJob(job), isolated: true))
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        unsafe UnownedSerialExecutor(ordinary: self)
    }

    /// Lets `assumeIsolated` work for actors pinned to the reactor when called on its thread
    /// (for example from a completion callback or a task preferring the reactor).
    func checkIsolated() {
        precondition(unsafe reactor.isIsolatingCurrentContext(), "not on the reactor thread")
    }

    func isIsolatingCurrentContext() -> Bool? {
        unsafe reactor.isIsolatingCurrentContext()
    }
}
