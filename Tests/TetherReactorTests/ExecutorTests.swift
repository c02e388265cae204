import Testing
import TetherReactor
import TetherTesting

/// An actor whose executor is the reactor: its methods run on the reactor thread.
actor PinnedCounter {
    let reactor: Reactor
    var count = 0
    nonisolated var unownedExecutor: UnownedSerialExecutor { reactor.unownedSerialExecutor }

    init(reactor: Reactor) { self.reactor = reactor }

    func incrementOnReactor() -> Bool {
        count += 1
        return reactor.isCurrentThread
    }

    /// Awaits a reactor operation from inside the actor and checks it is still on the thread after.
    func sleepAndCheck() async throws -> Bool {
        try await reactor.sleep(for: .milliseconds(1))
        return reactor.isCurrentThread
    }
}

/// A nonisolated async function the optimizer cannot inline into its caller: entering it is a
/// hop to the generic executor, which for a task preferring the reactor is the reactor itself.
@inline(never) func nonisolatedStep(_ value: Int) async -> Int { value &+ 1 }

/// Counts its calls on the reactor thread (see `callSoonRunsAfterTheCurrentJob`).
final class CallbackProbe: ReactorCallback, @unchecked Sendable {
    // Touched only on the reactor thread (or the queue that stands in for it after shutdown).
    let reactor: Reactor
    var calls = 0
    var onReactorThread = true
    init(reactor: Reactor) { self.reactor = reactor }
    func reactorCallback() {
        calls += 1
        onReactorThread = onReactorThread && reactor.isCurrentThread
    }
}

extension ReactorSuite {
    @Suite(.timeLimit(.minutes(1))) struct ExecutorTests {
        /// A task that prefers the reactor runs its nonisolated code as the reactor's task-executor
        /// job: calling nonisolated async functions must not re-enqueue it. (When every job ran as
        /// isolated to the serial executor, each such call was one more job: 1,000 here.)
        @Test func nonisolatedCallsInAPreferringTaskRunWithoutNewJobs() async throws {
            let reactor = try Reactor.start()
            let jobs = await Task(executorPreference: reactor) {
                let before = await reactor.counters().jobsRun
                var value = 0
                for _ in 0..<1000 { value = await nonisolatedStep(value) }
                #expect(value == 1000)
                #expect(reactor.isCurrentThread)
                return await reactor.counters().jobsRun - before
            }.value
            #expect(jobs < 20, "a nonisolated call must not cost a job: \(jobs) jobs for 1000 calls")
            // An actor pinned to the reactor still runs isolated (and its calls still run there).
            let counter = PinnedCounter(reactor: reactor)
            let onThread = await Task(executorPreference: reactor) {
                var all = true
                for _ in 0..<100 { all = await counter.incrementOnReactor() && all }
                return all
            }.value
            #expect(onThread)
            #expect(await counter.count == 100)
            await reactor.shutdown()
        }

        /// `runIsolated` runs a step isolated to an actor pinned to the reactor, synchronously,
        /// from nonisolated code on the reactor thread; the actor sees every step.
        @Test func runIsolatedRunsAStepOfAPinnedActor() async throws {
            let reactor = try Reactor.start()
            let counter = PinnedCounter(reactor: reactor)
            let total = await Task(executorPreference: reactor) {
                var last = 0
                for step in 1...10 {
                    last = reactor.runIsolated(counter, step) { counter, step in
                        counter.count += step
                        return counter.count
                    }
                }
                return last
            }.value
            #expect(total == 55)
            #expect(await counter.count == 55)
            await reactor.shutdown()
        }

        /// `callSoon` from the reactor thread runs after the current job, not inside it; from
        /// another thread it runs on the reactor thread; after shutdown it still runs.
        @Test func callSoonRunsAfterTheCurrentJob() async throws {
            let reactor = try Reactor.start()
            let probe = CallbackProbe(reactor: reactor)
            let callsInsideTheJob = await Task(executorPreference: reactor) {
                reactor.callSoon(probe)
                reactor.callSoon(probe)
                return probe.calls
            }.value
            #expect(callsInsideTheJob == 0)
            await Task.detached { reactor.callSoon(probe) }.value
            // A round trip through the loop after the posts: the callbacks ran before it returns.
            _ = await reactor.counters()
            let (calls, onThread) = await Task(executorPreference: reactor) { (probe.calls, probe.onReactorThread) }
                .value
            #expect(calls == 3)
            #expect(onThread)
            await reactor.shutdown()
            await withCheckedContinuation { continuation in
                final class Resume: ReactorCallback, @unchecked Sendable {
                    let continuation: CheckedContinuation<Void, Never>
                    init(_ continuation: CheckedContinuation<Void, Never>) { self.continuation = continuation }
                    func reactorCallback() { continuation.resume() }
                }
                reactor.callSoon(Resume(continuation))
            }
        }

        @Test func pinnedActorMethodsRunOnTheReactorThread() async throws {
            let reactor = try Reactor.start()
            let counter = PinnedCounter(reactor: reactor)
            // Called from a task on the global pool: the call hops to the reactor.
            let detached = await Task.detached { await counter.incrementOnReactor() }.value
            #expect(detached)
            #expect(try await counter.sleepAndCheck())
            // From a task that prefers the reactor, nothing hops.
            let preferred = await Task(executorPreference: reactor) {
                let onThread = reactor.isCurrentThread
                return await (onThread, counter.incrementOnReactor())
            }.value
            #expect(preferred == (true, true))
            #expect(await counter.count == 2)
            await reactor.shutdown()
        }

        @Test func operationsFromTheGlobalPoolHopAndComplete() async throws {
            let reactor = try Reactor.start()
            let (a, b) = try StreamSocket.makePair(on: reactor)
            try await Task.detached {
                try await a.send(BufferSlice(copying: Array("ping".utf8)))
                #expect(try await b.receive()?.bytes == Array("ping".utf8))
                try await a.close()
                try await b.close()
            }.value
            await reactor.shutdown()
        }
    }
}
