import Dispatch
import Synchronization
import Testing
import TetherReactor
import TetherTesting

/// Counts its firings and whether each came on the reactor thread.
private final class TimerLog: ReactorTimerHandler {
    let reactor: Reactor
    let firings = Atomic<Int>(0)
    let firingsOffTheReactor = Atomic<Int>(0)

    init(reactor: Reactor) { self.reactor = reactor }

    func timerFired() {
        firings.add(1, ordering: .relaxed)
        if !reactor.isCurrentThread { firingsOffTheReactor.add(1, ordering: .relaxed) }
    }

    var count: Int { firings.load(ordering: .relaxed) }
}

/// Starts or cancels from a task that does not run on the reactor.
private func offTheReactor<Value: Sendable>(_ body: @escaping @Sendable () -> Value) async -> Value {
    await Task.detached { body() }.value
}

extension ReactorSuite {
    @Suite(.timeLimit(.minutes(1))) struct ReactorTimerTests {
        /// A timer calls its handler once, on the reactor thread, and leaves nothing in flight.
        @Test(arguments: [false, true])
        func firesOnceOnTheReactorThread(startedElsewhere: Bool) async throws {
            try await withReactor { reactor in
                let log = TimerLog(reactor: reactor)
                let start: @Sendable () -> ReactorTimer = {
                    ReactorTimer.start(on: reactor, timeoutNanoseconds: 5_000_000, handler: log)
                }
                let timer = startedElsewhere ? await offTheReactor(start) : start()
                let fired = try await eventually(on: reactor) { log.count == 1 }
                #expect(fired)
                #expect(log.firingsOffTheReactor.load(ordering: .relaxed) == 0)
                // Fired once and not armed again.
                #expect(await reactor.counters().operationsInFlight == 0)
                // Cancelling a timer that fired submits nothing: over a 1 ms sleep (one
                // submission, its own timeout) the loop submits nothing else.
                let submitted = await reactor.counters().submissions
                timer.cancel()
                try await reactor.sleep(for: .milliseconds(1))
                #expect(await reactor.counters().submissions == submitted + 1)
            }
        }

        /// A timer cancelled before its time never calls its handler, and its timeout is removed
        /// from the kernel rather than left to run out.
        @Test(arguments: [false, true])
        func aCancelledTimerNeverFires(cancelledElsewhere: Bool) async throws {
            try await withReactor { reactor in
                let log = TimerLog(reactor: reactor)
                // An hour: only the removal, not the time running out, can free the slot in time.
                let timer = ReactorTimer.start(on: reactor, timeoutNanoseconds: 3_600_000_000_000, handler: log)
                #expect(await reactor.counters().operationsInFlight == 1)
                if cancelledElsewhere {
                    await offTheReactor { timer.cancel() }
                } else {
                    timer.cancel()
                }
                let removed = try await eventually(on: reactor, attempts: 200) {
                    await reactor.counters().operationsInFlight == 0
                }
                #expect(removed)
                #expect(log.count == 0)
            }
        }

        /// A timer started and cancelled from another thread before the loop took either step
        /// never reaches the kernel: once the loop has run both posts, nothing is in flight.
        @Test func startedAndCancelledElsewhereNeverFires() async throws {
            try await withReactor { reactor in
                let log = TimerLog(reactor: reactor)
                let submitted = await reactor.counters().submissions
                // The reactor thread (this task's) is held until both posts are queued, so the
                // loop sees the cancel before it could arm the timer.
                let posted = DispatchSemaphore(value: 0)
                Task.detached {
                    ReactorTimer.start(on: reactor, timeoutNanoseconds: 3_600_000_000_000, handler: log).cancel()
                    posted.signal()
                }
                posted.wait()
                // A loop turn runs the posts: it submits the sleep's timeout and the wake-up read
                // armed again (perhaps twice); an armed and removed timer would add two more.
                try await reactor.sleep(for: .milliseconds(1))
                let counters = await reactor.counters()
                #expect(counters.submissions - submitted <= 3)
                #expect(counters.operationsInFlight == 0)
                #expect(log.count == 0)
            }
        }

        /// Many per-call deadlines that end before their time: every timeout is removed, none
        /// fires, and their operation slots come back (a removed timeout holds its slot until its
        /// completion is reaped, so each round stays below the 4096 slots).
        @Test func manyTimersCancelledEarlyLeaveNothingBehind() async throws {
            try await withReactor { reactor in
                let log = TimerLog(reactor: reactor)
                for _ in 0..<5 {
                    for _ in 0..<2_000 {
                        ReactorTimer.start(on: reactor, timeoutNanoseconds: 3_600_000_000_000, handler: log).cancel()
                    }
                    let drained = try await eventually(on: reactor, attempts: 200) {
                        await reactor.counters().operationsInFlight == 0
                    }
                    #expect(drained)
                }
                #expect(log.count == 0)
            }
        }

        /// A reactor shutdown does not wait for a pending timer, and the timer does not fire.
        @Test func shutdownEndsAPendingTimerWithoutFiringIt() async throws {
            let reactor = try Reactor.start()
            let log = TimerLog(reactor: reactor)
            // An hour: a shutdown that waited for it would exceed the suite's time limit.
            let timer = ReactorTimer.start(on: reactor, timeoutNanoseconds: 3_600_000_000_000, handler: log)
            // Started from this task, off the reactor: pending once the loop took the post.
            #expect(try await eventually(on: reactor) { await reactor.counters().operationsInFlight == 1 })
            await reactor.shutdown()
            #expect(log.count == 0)
            // After shutdown, cancelling and starting do nothing (and do not trap).
            timer.cancel()
            ReactorTimer.start(on: reactor, timeoutNanoseconds: 0, handler: log).cancel()
            _ = ReactorTimer.start(on: reactor, timeoutNanoseconds: 0, handler: log)
            #expect(log.count == 0)
        }
    }
}
