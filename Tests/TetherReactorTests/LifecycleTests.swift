import Testing
import TetherReactor
import TetherTesting

extension ReactorSuite {
    @Suite(.timeLimit(.minutes(1))) struct LifecycleTests {
        /// Shutdown with 1,000 operations pending (receives, timers, accepts, process waits):
        /// every waiter resumes with `shutDown`, and shutdown returns.
        @Test func shutdownCompletesOneThousandPendingOperations() async throws {
            // `eventually` below sleeps with Task.sleep: let libdispatch open its timerfd first.
            try await ProcessResources.openDispatchTimer()
            // A process-wide count: sound only while no other test runs (`--no-parallel`).
            let descriptors = DescriptorSnapshot()
            let reactor = try Reactor.start()
            var tasks: [Task<Void, any Error>] = []
            var keep: [StreamSocket] = []
            for index in 0..<1000 {
                switch index % 3 {
                case 0:
                    let (a, b) = try StreamSocket.makePair(on: reactor)
                    keep.append(a)
                    tasks.append(Task(executorPreference: reactor) { _ = try await b.receive() })
                case 1:
                    tasks.append(Task(executorPreference: reactor) { try await reactor.sleep(for: .seconds(3600)) })
                default:
                    let listener = try Listener.listen(on: .tcp(host: "127.0.0.1", port: 0), reactor: reactor)
                    tasks.append(Task(executorPreference: reactor) { _ = try await listener.accept() })
                }
            }
            // Let every task start its operation.
            #expect(try await eventually { await reactor.counters().operationsInFlight >= 1000 })
            await reactor.shutdown()
            for task in tasks {
                let error = await #expect(throws: ReactorError.self) { try await task.value }
                #expect(error?.code == .shutDown)
            }
            keep.removeAll()
            #expect(descriptors.added == 0)
        }

        /// Operations after shutdown fail at once with `shutDown`.
        @Test func operationsAfterShutdownFail() async throws {
            let reactor = try Reactor.start()
            await reactor.shutdown()
            await reactor.shutdown()  // idempotent
            let error = await #expect(throws: ReactorError.self) { try await reactor.sleep(for: .milliseconds(1)) }
            #expect(error?.code == .shutDown)
        }

        /// 10,000 cycles of open, use and close leave the fd count where it was.
        @Test func tenThousandOpenCloseCyclesLeakNoDescriptors() async throws {
            try await withReactor { reactor in
                // A process-wide count: sound only while no other test runs (`--no-parallel`).
                let descriptors = DescriptorSnapshot()
                let listener = try Listener.listen(on: .tcp(host: "127.0.0.1", port: 0), reactor: reactor)
                for cycle in 0..<10_000 {
                    if cycle % 2 == 0 {
                        let (a, b) = try StreamSocket.makePair(on: reactor)
                        try await a.send(BufferSlice(copying: [UInt8(cycle & 0xFF)]))
                        #expect(try await b.receive()?.bytes == [UInt8(cycle & 0xFF)])
                        try await a.close()
                        try await b.close()
                    } else {
                        async let accepted = listener.accept()
                        let client = try await StreamSocket.connect(to: listener.address, on: reactor)
                        let server = try await accepted
                        try await client.close()
                        #expect(try await server.receive() == nil)
                        try await server.close()
                    }
                }
                try await listener.close()
                #expect(descriptors.added == 0)
                #expect(await reactor.counters().operationsInFlight == 0)
            }
        }

        /// A task that is cancelled still closes what it closes: its sockets (a plain close, and
        /// the socket of a connect that fails in it) do not leak their descriptors.
        @Test func closingInACancelledTaskReleasesTheDescriptor() async throws {
            try await withReactor { reactor in
                // A process-wide count: sound only while no other test runs (`--no-parallel`).
                let descriptors = DescriptorSnapshot()
                let (a, b) = try StreamSocket.makePair(on: reactor)
                let closer = Task(executorPreference: reactor) {
                    while !Task.isCancelled { await Task.yield() }
                    try await a.close()
                    try await b.close()
                    _ = try? await StreamSocket.connect(to: .unix(path: "/nonexistent/tether.sock"), on: reactor)
                }
                closer.cancel()
                try await closer.value
                #expect(descriptors.added == 0)
                #expect(await reactor.counters().operationsInFlight == 0)
            }
        }

        /// Handles dropped without `close()` are closed by the reactor.
        @Test func droppedHandlesAreClosed() async throws {
            try await withReactor { reactor in
                // A process-wide count: sound only while no other test runs (`--no-parallel`).
                let descriptors = DescriptorSnapshot()
                for _ in 0..<100 {
                    let (a, b) = try StreamSocket.makePair(on: reactor)
                    try await a.send(BufferSlice(copying: [1]))
                    _ = try await b.receive()
                }
                // A dropped socket with an armed receive is closed after its receive is cancelled,
                // a few loop turns later: wait for the fds to come back (bounded), not a fixed time.
                #expect(try await eventually(on: reactor) { descriptors.added == 0 })
                #expect(await reactor.counters().operationsInFlight == 0)
            }
        }

        @Test func invalidConfigurationIsRejected() async throws {
            var configuration = ReactorConfiguration()
            configuration.receiveBufferCount = 3  // not a power of two
            let error = #expect(throws: ReactorError.self) { _ = try Reactor.start(configuration: configuration) }
            #expect(error?.code == .invalidArgument)
        }

        @Test func ringSetupErrorsNameTheLikelyCause() {
            let blocked = ReactorError.ringSetupDiagnosis(errno: 1)
            #expect(blocked.code == .ringUnavailable)
            #expect(blocked.description.contains("seccomp"))
            #expect(blocked.description.contains("kernel.io_uring_disabled"))
            #expect(ReactorError.ringSetupDiagnosis(errno: 38).code == .ringUnavailable)  // ENOSYS
        }
    }
}
