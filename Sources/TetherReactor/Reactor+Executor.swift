import Dispatch
import Glibc

/// Marks a reactor's fallback queue, so isolation checks can recognise it.
let fallbackQueueKey = DispatchSpecificKey<ObjectIdentifier>()

extension Reactor: SerialExecutor, TaskExecutor {
    /// Runs `job` on the reactor thread. From the reactor thread this is a queue append; from other
    /// threads it takes the lock and wakes the loop. After shutdown, jobs still run one at a time
    /// on a fallback queue so that awaiting tasks can finish.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if isCurrentThread, let loop = loop, !loop.exited {
            loop.jobs.append(job)
            return
        }
        if !(post(.job(job))) { runAfterShutdown(job) }
    }

    private func runAfterShutdown(_ job: UnownedJob) {
        let serial = unsafe asUnownedSerialExecutor()
        let task = unsafe asUnownedTaskExecutor()
        fallbackQueue.async { unsafe job.runSynchronously(isolatedTo: serial, taskExecutor: task) }
    }

    /// This reactor as an actor's executor: `nonisolated var unownedExecutor: UnownedSerialExecutor
    /// { reactor.unownedSerialExecutor }` pins the actor to the reactor thread. The reactor lives
    /// until ``Reactor/shutdown()`` and beyond, as long as anything references it.
    @safe public var unownedSerialExecutor: UnownedSerialExecutor { unsafe asUnownedSerialExecutor() }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        unsafe UnownedSerialExecutor(ordinary: self)
    }

    public func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        unsafe UnownedTaskExecutor(ordinary: self)
    }

    /// Lets `assumeIsolated` work for actors pinned to this reactor when called on its thread
    /// (for example from a completion callback).
    public func checkIsolated() {
        precondition(isIsolatingCurrentContext() == true, "not on the reactor thread")
    }

    public func isIsolatingCurrentContext() -> Bool? {
        if isCurrentThread { return true }
        // After shutdown the fallback queue stands in for the thread.
        return isOnFallbackQueue()
    }

    private func isOnFallbackQueue() -> Bool {
        // dispatchPrecondition traps instead of answering; the queue carries a marker instead.
        DispatchQueue.getSpecific(key: fallbackQueueKey) == ObjectIdentifier(self)
    }
}
