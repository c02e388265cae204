import CLibUring
import CoreMetrics
import Dispatch
import Glibc
import Synchronization

/// One thread driving one io_uring: the event loop and the executor of everything bound to it.
///
/// Start one with ``start(configuration:)``, run code on it by pinning actors to it
/// (`nonisolated var unownedExecutor: UnownedSerialExecutor { reactor.unownedSerialExecutor }`)
/// or by preferring it for a task (`Task(executorPreference: reactor) { … }`,
/// `withTaskExecutorPreference(reactor) { … }`). Operations awaited on the reactor thread complete
/// without a thread hop; called from elsewhere, they hop to the reactor once and back.
///
/// Stop it with ``shutdown()``: in-flight operations are cancelled, every waiter gets
/// ``ReactorError/Code/shutDown``, handles still open are closed, and the thread is joined.
public final class Reactor: @unsafe @unchecked Sendable {
    // SAFETY: state shared with other threads is `remote` (a Mutex), `wakePending` and `phase`
    // (atomics) and `threadID` (written before `start` returns, read-only after). `loop` is created
    // and used on the reactor thread only; every entry point from outside checks `isCurrentThread`
    // or posts through `remote`.

    /// The limits this reactor was started with.
    public let configuration: ReactorConfiguration

    /// Used through ``withRemoteQueue(_:)`` only, which ThreadSanitizer can follow.
    private let remote = Mutex(RemoteQueue())
    private let wakePending = Atomic<Bool>(false)
    let wakeFD: Int32
    var threadID = pthread_t()
    private let joined = Atomic<Bool>(false)
    var loop: EventLoop?
    /// Runs jobs that arrive after the loop thread exited, still one at a time.
    let fallbackQueue = DispatchQueue(label: "tether.reactor.after-shutdown")
    /// The reactor as the executor of actors pinned to it.
    private(set) var serialExecutor: ReactorSerialExecutor!
    /// The counters as swift-metrics metrics; nil without a metrics backend.
    let metrics: ReactorMetrics?

    private init(configuration: ReactorConfiguration, wakeFD: Int32, metrics: ReactorMetrics?) {
        self.configuration = configuration
        self.wakeFD = wakeFD
        self.metrics = metrics
        fallbackQueue.setSpecific(key: fallbackQueueKey, value: ObjectIdentifier(self))
        serialExecutor = ReactorSerialExecutor(reactor: self)
    }

    /// Starts a reactor thread and creates its ring there.
    ///
    /// - Throws: ``ReactorError`` with code ``ReactorError/Code/ringUnavailable`` when io_uring is
    ///   blocked or missing (the detail names seccomp and `kernel.io_uring_disabled`),
    ///   ``ReactorError/Code/ringSetupFailed`` or ``ReactorError/Code/invalidArgument`` for a bad
    ///   configuration, ``ReactorError/Code/threadStartFailed`` if no thread could be created.
    /// - Parameter metricsFactory: where the reactor's counters go as metrics (`tether_reactor_*`,
    ///   see docs/guide.md); by default the one the application bootstrapped, and none without one.
    public static func start(
        configuration: ReactorConfiguration = .init(), metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) throws(ReactorError) -> Reactor {
        guard configuration.maxInFlightOperations > 0, configuration.maxIovecsPerSend > 0,
            configuration.maxQueuedBuffersPerHandle > 0, configuration.acceptQueueLimit > 0,
            configuration.maxJobsPerIteration > 0, configuration.ringEntries > 0
        else {
            throw ReactorError(.invalidArgument, operation: "start", detail: "every limit must be positive")
        }
        let wakeFD = try syscall("eventfd") { eventfd(0, Int32(EFD_CLOEXEC)) }
        let metrics = ReactorMetrics(factory: metricsFactory, name: configuration.threadName)
        let reactor = Reactor(configuration: configuration, wakeFD: wakeFD, metrics: metrics)
        let startup = StartupSignal()
        let context = unsafe Unmanaged.passRetained(ThreadContext(reactor: reactor, startup: startup)).toOpaque()
        var thread = pthread_t()
        let created = unsafe pthread_create(&thread, nil, reactorThreadMain, context)
        guard created == 0 else {
            unsafe Unmanaged<ThreadContext>.fromOpaque(context).release()
            closeDescriptor(wakeFD)
            throw ReactorError(.threadStartFailed, operation: "pthread_create", errno: .init(rawValue: created))
        }
        if let failure = startup.wait() {
            pthread_join(thread, nil)
            closeDescriptor(wakeFD)
            throw failure
        }
        return reactor
    }

    /// True once the loop thread has finished (after ``shutdown()``).
    var hasStopped: Bool { withRemoteQueue { $0.loopExited } }

    /// Runs `body` on the remote queue under its lock.
    ///
    /// ThreadSanitizer does not see Swift's `Mutex` (a futex in an uninstrumented library), so each
    /// critical section also acquires at its start and releases at its end a synchronization
    /// object it does see, at this reactor's address: the order between two sections, which the
    /// lock guarantees, is then known to it too. Outside ThreadSanitizer builds these are no-ops.
    func withRemoteQueue<Result>(_ body: (inout sending RemoteQueue) -> sending Result) -> sending Result {
        remote.withLock { queue in
            let address = unsafe UnsafeRawPointer(Unmanaged.passUnretained(self).toOpaque())
            unsafe tether_tsan_acquire(address)
            defer { unsafe tether_tsan_release(address) }
            return body(&queue)
        }
    }

    /// True when called on this reactor's thread.
    public var isCurrentThread: Bool { pthread_equal(pthread_self(), threadID) != 0 }

    /// The loop state; only valid on the reactor thread.
    var currentLoop: EventLoop {
        precondition(isCurrentThread, "reactor state touched off the reactor thread")
        return unsafe loop.unsafelyUnwrapped
    }

    /// Hands `item` to the reactor thread and wakes it if it may be sleeping.
    ///
    /// The eventfd is written at most once per wake-up: `wakePending` stays set until the loop has
    /// seen the eventfd completion, and the loop drains the queue after clearing it.
    /// Returns false if the loop has exited (the item was not queued).
    @discardableResult
    func post(_ item: RemoteQueue.Item) -> Bool {
        let queued = withRemoteQueue { queue in
            if queue.loopExited { return false }
            queue.items.append(item)
            return true
        }
        guard queued else { return false }
        if !wakePending.exchange(true, ordering: .acquiringAndReleasing) {
            addToEventCounter(wakeFD)
        }
        return true
    }

    /// True while a wake-up is pending (an item was posted and the loop has not yet seen the eventfd).
    var isWakePending: Bool { wakePending.load(ordering: .acquiring) }

    /// Called by the loop when the eventfd read completes, before it drains `remote`.
    func wakeObserved() { wakePending.store(false, ordering: .releasing) }

    /// Runs `action` on the reactor thread: now if already there, otherwise as soon as the loop
    /// wakes. Returns false if the reactor has stopped.
    @discardableResult
    func onLoop(_ action: @escaping () -> Void) -> Bool {
        if isCurrentThread, let loop = loop, !loop.exited {
            action()
            return true
        }
        return post(.action(LoopAction(body: action)))
    }

    /// Cancels the in-flight operation `userData`, from any thread.
    func requestCancel(_ userData: UInt64) {
        if isCurrentThread, let loop = loop, !loop.exited {
            loop.cancel(userData)
        } else {
            post(.cancel(userData: userData))
        }
    }

    /// A provided buffer's last slice was released (any thread).
    func bufferReleased(_ bufferID: UInt16, pool: ProvidedBufferPool) {
        if isCurrentThread, let loop = loop, !loop.exited {
            loop.recycle(bufferID)
        } else {
            post(.recycle(bufferID: bufferID))
        }
    }

    /// Stops the reactor: cancels in-flight operations (their waiters get
    /// ``ReactorError/Code/shutDown``), closes the handles it still owns, and joins its thread.
    /// Safe to call more than once and from any context, including a task running on the reactor.
    ///
    /// Every child process spawned on this reactor and not yet reaped — whether its
    /// ``ChildProcess`` handle is still held, was dropped or was closed — is ended and reaped
    /// before its pidfd is closed: `SIGKILL` to its process group if it leads one (its own
    /// children die with it), and to the child, then a blocking `waitid` until it is gone. So no
    /// child outlives the reactor or stays a zombie. A child in uninterruptible sleep delays the
    /// return until it dies.
    public func shutdown() async {
        unsafe await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            if !(unsafe post(.shutdown(continuation))) { unsafe continuation.resume() }
        }
        if !joined.exchange(true, ordering: .acquiringAndReleasing) {
            pthread_join(threadID, nil)
            closeDescriptor(wakeFD)
        }
    }

    /// A snapshot of the reactor's counters.
    public func counters() async -> ReactorCounters {
        unsafe await withUnsafeContinuation { (continuation: UnsafeContinuation<ReactorCounters, Never>) in
            let posted = onLoop { unsafe continuation.resume(returning: self.currentLoop.snapshotCounters()) }
            if !posted { unsafe continuation.resume(returning: ReactorCounters()) }
        }
    }
}

/// Carries the reactor into its thread and the startup result back out.
private final class ThreadContext {
    let reactor: Reactor
    let startup: StartupSignal
    init(reactor: Reactor, startup: StartupSignal) {
        self.reactor = reactor
        self.startup = startup
    }
}

/// One-shot handshake between `start` and the new thread: success, or why the ring failed.
final class StartupSignal: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let result = Mutex<ReactorError?>(nil)

    func succeed() { semaphore.signal() }
    func fail(_ error: ReactorError) {
        result.withLock { $0 = error }
        semaphore.signal()
    }
    func wait() -> ReactorError? {
        semaphore.wait()
        return result.withLock { $0 }
    }
}

/// Thread entry point. A free function: a closure defined in top-level code would be
/// `@MainActor`-isolated and trap when it runs on this thread.
private func reactorThreadMain(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let context = unsafe Unmanaged<ThreadContext>.fromOpaque(context.unsafelyUnwrapped).takeRetainedValue()
    let reactor = context.reactor
    // Written here, before anything on this thread asks `isCurrentThread`; `start` reads it only
    // after the startup signal.
    reactor.threadID = pthread_self()
    let name = String(reactor.configuration.threadName.utf8.prefix(15)) ?? "tether-reactor"
    _ = unsafe tether_set_thread_name(name)
    let loop: EventLoop
    do {
        loop = try EventLoop(reactor: reactor)
    } catch {
        context.startup.fail(error)
        return nil
    }
    reactor.loop = loop
    context.startup.succeed()
    loop.run()
    // Release the ring (its fd, the buffer ring, the slot memory) now rather than with the Reactor
    // object, which users may keep long after shutdown. Buffers still lent keep their memory.
    reactor.loop = nil
    return nil
}
