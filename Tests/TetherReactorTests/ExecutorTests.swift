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

extension ReactorSuite {
    @Suite struct ExecutorTests {
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
