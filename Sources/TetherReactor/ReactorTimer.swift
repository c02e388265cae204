import Synchronization

/// Told when a ``ReactorTimer`` fires.
package protocol ReactorTimerHandler: AnyObject, Sendable {
    /// Called at most once, on the reactor thread outside any job, when the timer's time has
    /// passed and it was not cancelled first. Actors pinned to the reactor may be entered with
    /// ``Reactor/runIsolated(_:_:_:)``.
    func timerFired()
}

/// A one-shot timer that calls a handler on the reactor thread: a deadline for work that
/// usually ends first (an RPC call).
///
/// One `IORING_OP_TIMEOUT` in flight, whose completion calls the handler; ``cancel()`` removes
/// it from the kernel (an `IORING_OP_ASYNC_CANCEL`, as for every operation). No task, no continuation and nothing else per
/// timer than this object, where a task that sleeps and then acts costs a task, its jobs and a
/// cancellation handler. Started and cancelled on the reactor thread it posts nothing; from
/// another thread each step is one post to the reactor.
///
/// A timer that cannot start — the reactor is shutting down or has stopped, or every operation
/// slot is in use — never fires, and a reactor shutdown cancels a pending one: like a task
/// whose sleep fails, it then does nothing.
package final class ReactorTimer: OperationCallback, ReactorCallback, Sendable {
    /// The timeout's state, written and read on the reactor thread only: `starting` (not in
    /// the kernel yet), `ended` (fired, removed, or never started), or else the user data of
    /// the timeout in the kernel (never 0 or `UInt64.max`: slot generations start at 1, and
    /// `UInt64.max` is the user data of ignored CQEs). Atomic, with relaxed ordering as no other
    /// thread looks at it, so the type is `Sendable` without an unchecked conformance.
    private let phase = Atomic<UInt64>(ReactorTimer.starting)
    private static let starting: UInt64 = 0
    private static let ended: UInt64 = .max

    let reactor: Reactor
    private let handler: any ReactorTimerHandler
    private let timeoutNanoseconds: UInt64
    /// Set by ``cancel()`` on any thread: from then on the handler is not called.
    private let cancelled = Atomic<Bool>(false)

    private init(reactor: Reactor, timeoutNanoseconds: UInt64, handler: any ReactorTimerHandler) {
        self.reactor = reactor
        self.timeoutNanoseconds = timeoutNanoseconds
        self.handler = handler
    }

    /// Starts a timer that calls `handler` after `timeoutNanoseconds` (monotonic clock, measured
    /// by the kernel) unless ``cancel()`` is called first. Any thread.
    package static func start(
        on reactor: Reactor, timeoutNanoseconds: UInt64, handler: any ReactorTimerHandler
    ) -> ReactorTimer {
        let timer = ReactorTimer(reactor: reactor, timeoutNanoseconds: timeoutNanoseconds, handler: handler)
        if let loop = timer.currentLoop {
            timer.arm(loop: loop)
        } else {
            reactor.callSoon(timer)
        }
        return timer
    }

    /// Stops the timer: once this returns, the handler is not called (unless it is running at
    /// this moment on the reactor thread). Any thread; idempotent. On the reactor thread the
    /// timeout is removed from the kernel at once; from another thread, when the loop next runs.
    package func cancel() {
        guard !cancelled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if let loop = currentLoop {
            end(loop: loop)
        } else {
            reactor.callSoon(self)
        }
    }

    /// The loop, when called on the reactor thread while it runs.
    private var currentLoop: EventLoop? {
        guard reactor.isCurrentThread, let loop = reactor.loop, !loop.exited else { return nil }
        return loop
    }

    private func arm(loop: EventLoop) {
        guard phase.load(ordering: .relaxed) == Self.starting else { return }
        if cancelled.load(ordering: .acquiring) {
            phase.store(Self.ended, ordering: .relaxed)
            return
        }
        // Nil while shutting down or with every slot in use: the timer never fires.
        let userData = loop.start(.timeout(nanoseconds: timeoutNanoseconds), target: .callback(self))
        phase.store(userData ?? Self.ended, ordering: .relaxed)
    }

    private func end(loop: EventLoop) {
        let userData = phase.exchange(Self.ended, ordering: .relaxed)
        if userData != Self.starting, userData != Self.ended { loop.cancel(userData) }
    }

    /// A start or a cancel posted from another thread. After the reactor stopped this runs on
    /// its fallback queue, where nothing is in flight and nothing is left to do.
    package func reactorCallback() {
        guard let loop = currentLoop else { return }
        if cancelled.load(ordering: .acquiring) {
            end(loop: loop)
        } else {
            arm(loop: loop)
        }
    }

    /// The timeout's completion: it fired, or was removed, or the reactor is shutting down.
    func operationCompleted(_ completion: Completion, loop: EventLoop) {
        let userData = phase.load(ordering: .relaxed)
        guard userData != Self.starting, userData != Self.ended else { return }
        switch completion.decodeTimeout("timeout", CompletionContext(shuttingDown: loop.stopping)) {
        case .success:
            phase.store(Self.ended, ordering: .relaxed)
            if !cancelled.load(ordering: .acquiring) { handler.timerFired() }
        case .failure(.retry):
            // Submitted again for the whole timeout, like an awaited operation.
            phase.store(Self.starting, ordering: .relaxed)
            arm(loop: loop)
        case .failure:
            phase.store(Self.ended, ordering: .relaxed)
        }
    }
}
