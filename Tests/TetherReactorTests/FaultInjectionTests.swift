import Glibc
import SystemPackage
import Testing
import TetherReactor
import TetherTesting

extension ReactorSuite {
    /// The reactor under the faults the kernel can produce (`FaultInjector`): short sends and
    /// receives, transient errors, a reset or broken pipe mid-stream, running out of descriptors.
    /// Under each, the bytes of every other stream arrive intact, the waiter on the failed socket
    /// gets the specific error, and nothing leaks.
    @Suite(.timeLimit(.minutes(1))) struct FaultInjectionTests {
        /// Short sends on every `sendmsg` of one socket: the sender sends the rest each time, so
        /// every byte arrives exactly once and in order; a pair on the same reactor without faults
        /// carries its bytes meanwhile.
        @Test func shortSendsAreSentOnUntilEveryByteArrives() async throws {
            let maxBytes = 4093
            let injector = FaultInjector()
            try await withFaultyReactor(injector) { reactor in
                let (a, b) = try StreamSocket.makePair(on: reactor)
                let (c, d) = try StreamSocket.makePair(on: reactor)
                injector.add(
                    .init(
                        .send, fileDescriptor: a.fileDescriptor.rawValue, times: nil, fault: .short(maxBytes: maxBytes))
                )
                let totalBytes = 1024 * 1024 + 7
                async let faulty: Int = Self.transfer(from: a, to: b, bytes: totalBytes, seed: 11)
                async let clean: Int = Self.transfer(from: c, to: d, bytes: totalBytes, seed: 12)
                #expect(try await faulty == totalBytes)
                #expect(try await clean == totalBytes)
                // Every sendmsg of `a` was cut short: far more calls than gathered sends.
                #expect(injector.injectedCount >= totalBytes / maxBytes)
                for socket in [a, b, c, d] { try await socket.close() }
                #expect(await reactor.counters().operationsInFlight == 0)
            }
        }

        /// Short receives: each chunk arrives in pieces of at most 3 bytes, every byte once and in
        /// order.
        @Test func shortReceivesDeliverEveryByteOnceInOrder() async throws {
            let injector = FaultInjector()
            try await withFaultyReactor(injector) { reactor in
                let (a, b) = try StreamSocket.makePair(on: reactor)
                injector.add(
                    .init(.receive, fileDescriptor: b.fileDescriptor.rawValue, times: nil, fault: .short(maxBytes: 3)))
                let totalBytes = 64 * 1024 + 5
                let received = try await Self.transfer(from: a, to: b, bytes: totalBytes, seed: 21, maxChunk: 3)
                #expect(received == totalBytes)
                #expect(injector.injectedCount > 0)
                try await a.close()
                try await b.close()
            }
        }

        /// `EINTR` and `EAGAIN` from sends and receives mean the kernel did nothing: the operation
        /// is submitted again and no byte is lost or doubled.
        @Test(arguments: [EINTR, EAGAIN])
        func transientErrorsAreRetried(errno: Int32) async throws {
            let injector = FaultInjector()
            try await withFaultyReactor(injector) { reactor in
                let (a, b) = try StreamSocket.makePair(on: reactor)
                injector.add(
                    .init(.send, fileDescriptor: a.fileDescriptor.rawValue, times: 3, fault: .fail(errno: errno)))
                injector.add(
                    .init(.receive, fileDescriptor: b.fileDescriptor.rawValue, times: 3, fault: .fail(errno: errno)))
                let totalBytes = 256 * 1024 + 3
                #expect(try await Self.transfer(from: a, to: b, bytes: totalBytes, seed: 31) == totalBytes)
                #expect(injector.injectedCount == 6)
                try await a.close()
                try await b.close()
            }
        }

        /// A receive that finds the buffer ring empty (`ENOBUFS`) reads into own memory, loses
        /// nothing, and goes back to the ring: here every buffer is in the ring already, so no
        /// buffer will be released to wake it; it must not stay on fallback receives for good.
        @Test func emptyBufferRingFallsBackThenReturnsToTheRing() async throws {
            let injector = FaultInjector()
            try await withFaultyReactor(injector) { reactor in
                let (a, b) = try StreamSocket.makePair(on: reactor)
                injector.add(.init(.receive, fileDescriptor: b.fileDescriptor.rawValue, fault: .fail(errno: ENOBUFS)))
                let before = await reactor.counters()
                let totalBytes = 4 * 1024 * 1024
                #expect(try await Self.transfer(from: a, to: b, bytes: totalBytes, seed: 41) == totalBytes)
                let after = await reactor.counters()
                #expect(injector.injectedCount == 1)
                #expect(after.bufferRingExhaustions == before.bufferRingExhaustions + 1)
                // One fallback receive at most: then back to provided buffers (64 of them).
                #expect(
                    after.fallbackReceives - before.fallbackReceives <= 1,
                    "\(after.fallbackReceives - before.fallbackReceives) fallback receives")
                try await a.close()
                try await b.close()
            }
        }

        /// A connection reset in the middle of a frame: the bytes before it are delivered, then the
        /// waiting receive (and every later one) fails with `ECONNRESET`; a pair on the same
        /// reactor carries its bytes meanwhile, and nothing leaks.
        @Test func connectionResetMidStreamFailsTheReader() async throws {
            let descriptors = DescriptorSnapshot()
            let injector = FaultInjector()
            try await withFaultyReactor(injector) { reactor in
                let (a, b) = try StreamSocket.makePair(on: reactor)
                let (c, d) = try StreamSocket.makePair(on: reactor)
                let pattern = ByteStreamPattern(seed: 51)
                try await a.send(pattern.slice(from: 0, count: 100))
                var received = 0
                while received < 100 {
                    let slice = try #require(try await b.receive())
                    #expect(pattern.firstMismatch(in: slice, at: received) == nil)
                    received += slice.count
                }
                async let clean: Int = Self.transfer(from: c, to: d, bytes: 1024 * 1024, seed: 52)
                let reader = Task(executorPreference: reactor) { try await b.receive() }
                try await reactor.injectFault(
                    .init(.receive, fileDescriptor: b.fileDescriptor.rawValue, fault: .fail(errno: ECONNRESET)))
                let error = await #expect(throws: ReactorError.self) {
                    _ = try await withTaskCancellationHandler {
                        try await reader.value
                    } onCancel: {
                        reader.cancel()
                    }
                }
                #expect(error?.errno == .connectionReset, "\(String(describing: error))")
                let again = await #expect(throws: ReactorError.self) { _ = try await b.receive() }
                #expect(again?.errno == .connectionReset)
                #expect(try await clean == 1024 * 1024)
                for socket in [a, b, c, d] { try await socket.close() }
                #expect(await reactor.counters().operationsInFlight == 0)
            }
            #expect(descriptors.added == 0)
        }

        /// A broken pipe in the middle of a send: the kernel took the first part (the peer gets
        /// exactly those bytes), then the send fails with `EPIPE`; another pair is untouched.
        @Test func brokenPipeMidSendFailsTheSender() async throws {
            let descriptors = DescriptorSnapshot()
            let injector = FaultInjector()
            try await withFaultyReactor(injector) { reactor in
                let (a, b) = try StreamSocket.makePair(on: reactor)
                let (c, d) = try StreamSocket.makePair(on: reactor)
                let fd = a.fileDescriptor.rawValue
                injector.add(.init(.send, fileDescriptor: fd, fault: .short(maxBytes: 50)))
                injector.add(.init(.send, fileDescriptor: fd, after: 1, fault: .fail(errno: EPIPE)))
                let pattern = ByteStreamPattern(seed: 61)
                async let clean: Int = Self.transfer(from: c, to: d, bytes: 1024 * 1024, seed: 62)
                let error = await #expect(throws: ReactorError.self) {
                    try await a.send(pattern.slice(from: 0, count: 100))
                }
                #expect(error?.errno == .brokenPipe, "\(String(describing: error))")
                try await a.close()
                var received = 0
                while let slice = try await b.receive() {
                    #expect(pattern.firstMismatch(in: slice, at: received) == nil)
                    received += slice.count
                }
                #expect(received == 50)
                #expect(try await clean == 1024 * 1024)
                for socket in [b, c, d] { try await socket.close() }
                #expect(await reactor.counters().operationsInFlight == 0)
            }
            #expect(descriptors.added == 0)
        }

        /// `EMFILE` from the accept: the waiting `accept()` is told, the listener accepts the
        /// connection once the back-off ends, and a connection accepted before carries on.
        @Test func outOfDescriptorsOnAcceptKeepsTheListener() async throws {
            let descriptors = DescriptorSnapshot()
            let injector = FaultInjector()
            try await withFaultyReactor(injector) { reactor in
                let path = "/tmp/tether-test-\(UInt64.random(in: 0...UInt64.max)).sock"
                let listener = try Listener.listen(on: .unix(path: path), reactor: reactor)
                async let firstAccepted = listener.accept()
                let first = try await StreamSocket.connect(to: listener.address, on: reactor)
                let firstServer = try await firstAccepted
                let before = await reactor.counters()

                try await reactor.injectFault(.init(.accept, fault: .fail(errno: EMFILE)))
                let second = try await StreamSocket.connect(to: listener.address, on: reactor)
                let error = await #expect(throws: ReactorError.self) { _ = try await listener.accept() }
                #expect(error?.errno == .tooManyOpenFiles, "\(String(describing: error))")
                let secondServer = try await listener.accept()
                #expect(await reactor.counters().acceptResourceExhaustions == before.acceptResourceExhaustions + 1)

                #expect(try await Self.transfer(from: first, to: firstServer, bytes: 100_000, seed: 71) == 100_000)
                #expect(try await Self.transfer(from: second, to: secondServer, bytes: 100_000, seed: 72) == 100_000)
                for socket in [first, firstServer, second, secondServer] { try await socket.close() }
                try await listener.close()
                #expect(await reactor.counters().operationsInFlight == 0)
            }
            #expect(descriptors.added == 0)
        }

        /// `EMFILE` from `socket(2)`: connecting and listening fail with it, nothing is left
        /// open, and the next attempt works.
        @Test func outOfDescriptorsOnSocketFailsConnectAndListen() async throws {
            let descriptors = DescriptorSnapshot()
            let injector = FaultInjector()
            try await withFaultyReactor(injector) { reactor in
                let listener = try Listener.listen(on: .tcp(host: "127.0.0.1", port: 0), reactor: reactor)
                injector.add(.init(.socket, times: 2, fault: .fail(errno: EMFILE)))
                let connectError = await #expect(throws: ReactorError.self) {
                    _ = try await StreamSocket.connect(to: listener.address, on: reactor)
                }
                #expect(connectError?.errno == .tooManyOpenFiles)
                let listenError = #expect(throws: ReactorError.self) {
                    _ = try Listener.listen(on: .tcp(host: "127.0.0.1", port: 0), reactor: reactor)
                }
                #expect(listenError?.errno == .tooManyOpenFiles)
                async let accepted = listener.accept()
                let client = try await StreamSocket.connect(to: listener.address, on: reactor)
                let server = try await accepted
                #expect(try await Self.transfer(from: client, to: server, bytes: 10_000, seed: 81) == 10_000)
                for socket in [client, server] { try await socket.close() }
                try await listener.close()
            }
            #expect(descriptors.added == 0)
        }

        /// A fresh reactor whose operations go through `injector`.
        private func withFaultyReactor(
            _ injector: FaultInjector, _ body: @Sendable (Reactor) async throws -> Void
        ) async throws {
            try await withReactor(configuration: .injectingFaults(injector), body)
        }

        /// ``transferPattern(from:to:bytes:seed:largestSend:maxChunk:)`` with sends of up to 100 KiB.
        static func transfer(
            from sender: StreamSocket, to receiver: StreamSocket, bytes: Int, seed: UInt64, maxChunk: Int = .max
        ) async throws -> Int {
            try await transferPattern(
                from: sender, to: receiver, bytes: bytes, seed: seed, largestSend: 100 * 1024, maxChunk: maxChunk)
        }
    }
}
