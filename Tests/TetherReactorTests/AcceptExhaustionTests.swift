import SystemPackage
import Testing
import TetherReactor
import TetherTesting

extension ReactorSuite {
    /// A listener whose accept runs out of descriptors neither spins nor stops for good.
    @Suite(.timeLimit(.minutes(1))) struct AcceptExhaustionTests {
        /// With the descriptor limit lowered so that accepting fails with `EMFILE`: the waiting
        /// `accept()` is told once, the episode is counted once, the loop does not spin while the
        /// listener backs off, and once the limit is raised every pending connection is accepted
        /// and carries bytes. (The limit is process-wide: `make test` runs the tests one at a
        /// time, `--no-parallel`, so no other test meets it.)
        @Test(arguments: [Transport.unix, .tcp])
        func acceptSurvivesRunningOutOfDescriptors(transport: Transport) async throws {
            try await withReactor { reactor in
                let address: SocketAddress =
                    transport == .tcp
                    ? .tcp(host: "127.0.0.1", port: 0)
                    : .unix(path: "/tmp/tether-test-\(UInt64.random(in: 0...UInt64.max)).sock")
                let listener = try Listener.listen(on: address, reactor: reactor)
                // Nobody accepts yet: the connections complete into the listen backlog.
                let clientCount = 3
                var clients: [StreamSocket] = []
                for _ in 0..<clientCount {
                    clients.append(try await StreamSocket.connect(to: listener.address, on: reactor))
                }

                let original = try ProcessControl.openFileLimit()
                // Every descriptor below the lowest free one is in use: with that as the limit,
                // the next descriptor the kernel makes fails with EMFILE.
                let probe = try FileDescriptor.standardInput.duplicate()
                let lowestFree = Int(probe.rawValue)
                try probe.close()
                try ProcessControl.setOpenFileLimit(soft: lowestFree)
                var restored = false
                defer { if !restored { try? ProcessControl.setOpenFileLimit(soft: original.soft) } }

                let before = await reactor.counters()
                let error = await #expect(throws: ReactorError.self) { _ = try await listener.accept() }
                #expect(error?.errno == .tooManyOpenFiles, "\(String(describing: error))")
                let told = await reactor.counters()
                #expect(told.acceptResourceExhaustions == before.acceptResourceExhaustions + 1)

                // A caller that goes on accepting waits (the error is told once per episode) while
                // the listener retries after growing back-offs: few loop turns, no spinning.
                let accepting = Task(executorPreference: reactor) { () throws -> [StreamSocket] in
                    var servers: [StreamSocket] = []
                    for _ in 0..<clientCount { servers.append(try await listener.accept()) }
                    return servers
                }
                for _ in 0..<10 { try await reactor.sleep(for: .milliseconds(30)) }
                let during = await reactor.counters()
                #expect(
                    during.loopIterations - told.loopIterations < 300,
                    "\(during.loopIterations - told.loopIterations) loop turns")
                #expect(during.acceptResourceExhaustions == told.acceptResourceExhaustions, "one episode, one count")

                try ProcessControl.setOpenFileLimit(soft: original.soft)
                restored = true
                let servers = try await accepting.value
                #expect(servers.count == clientCount)
                // Each connection works: every client's byte arrives on one of the servers.
                for (index, client) in clients.enumerated() {
                    try await client.send(BufferSlice(copying: [UInt8(index)]))
                }
                var seen: Set<UInt8> = []
                for server in servers {
                    if let byte = try await server.receive()?.bytes.first { seen.insert(byte) }
                }
                #expect(seen == Set((0..<clientCount).map { UInt8($0) }))
                #expect(await reactor.counters().acceptResourceExhaustions == told.acceptResourceExhaustions)
                for socket in clients + servers { try await socket.close() }
                try await listener.close()
                #expect(await reactor.counters().operationsInFlight == 0)
            }
        }
    }
}
