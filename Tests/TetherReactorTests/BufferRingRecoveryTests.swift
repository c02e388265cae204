import Glibc
import SystemPackage
import Testing
import TetherReactor
import TetherTesting

extension ReactorSuite {
    /// Every provided buffer the kernel fills comes back to the ring, whatever way the handle
    /// that received into it ends. A buffer lost per handle empties a long-running host's ring:
    /// every later receive falls back to memory of its own (`fallbackReceives`), for good.
    @Suite(.timeLimit(.minutes(1))) struct BufferRingRecoveryTests {
        /// Four buffers, so a handful of lost ones empties the ring.
        static let configuration: ReactorConfiguration = {
            var configuration = ReactorConfiguration()
            configuration.receiveBufferCount = 4
            configuration.receiveBufferBytes = 4096
            return configuration
        }()

        /// More cycles than the ring has buffers.
        static let cycles = 16

        /// Runs `cycle` `cycles` times, then checks that no buffer is lent out and that no receive
        /// found the ring empty.
        func expectRingIntact(_ cycle: @Sendable (Reactor) async throws -> Void) async throws {
            try await withReactor(configuration: Self.configuration) { reactor in
                for _ in 0..<Self.cycles { try await cycle(reactor) }
                let counters = await reactor.counters()
                #expect(counters.buffersLent == 0)
                #expect(counters.bufferRingExhaustions == 0, "a receive found the ring empty: \(counters)")
                #expect(counters.fallbackReceives == 0)
            }
        }

        @Test func pipeReadToEndOfStream() async throws {
            try await expectRingIntact { reactor in
                let (reader, writer) = try reactor.makePipe()
                try await writer.write(BufferSlice(copying: [1, 2, 3]))
                try await writer.close()
                var received: [UInt8] = []
                while let slice = try await reader.read() { received += slice.bytes }
                #expect(received == [1, 2, 3])
                try await reader.close()
            }
        }

        @Test func pipeClosedWhileAReadWaits() async throws {
            try await expectRingIntact { reactor in
                let (reader, writer) = try reactor.makePipe()
                try await writer.write(BufferSlice(copying: [1]))
                #expect(try await reader.read()?.bytes == [1])
                // The next read is armed in the kernel and waits for bytes that never come.
                let waiting = Task(executorPreference: reactor) { try await reader.read() }
                while !(await reader.receiveDiagnostics()).contains("armed=true") { await Task.yield() }
                waiting.cancel()
                _ = try? await waiting.value
                try await reader.close()
                try await writer.close()
            }
        }

        @Test(arguments: [Transport.socketpair, .unix, .tcp])
        func socketClosedByAPeerThatLeftBytesUnread(transport: Transport) async throws {
            try await expectRingIntact { reactor in
                let (a, b) = try await transport.connectedPair(on: reactor)
                try await b.send([BufferSlice(copying: [9, 9, 9])])
                #expect(try await a.receive()?.bytes == [9, 9, 9])
                // b never reads this: closing with unread bytes resets the connection.
                try await a.send([BufferSlice(copying: [7])])
                try await b.close()
                while true {
                    do {
                        guard try await a.receive() != nil else { break }
                    } catch {
                        break
                    }
                }
                try await a.close()
            }
        }

        /// A child writing to its stdout is killed while the host reads it: the host's read ends
        /// at end of stream and the pipe is closed.
        @Test func childKilledWhileItsOutputIsRead() async throws {
            try await expectRingIntact { reactor in
                let (reader, writer) = try reactor.makePipe()
                let child = try ChildProcess.spawn(
                    executable: "/bin/sh", arguments: ["-c", "echo ready; exec sleep 100"], environment: [],
                    files: [.init(writer.fileDescriptor, as: .standardOutput)], on: reactor)
                try await writer.close()
                var received: [UInt8] = []
                while !received.contains(0x0A), let slice = try await reader.read() { received += slice.bytes }
                #expect(received == Array("ready\n".utf8))
                let waiting = Task(executorPreference: reactor) { try await reader.read() }
                while !(await reader.receiveDiagnostics()).contains("armed=true") { await Task.yield() }
                try child.send(signal: SIGKILL)
                #expect(try await waiting.value == nil)
                #expect(try await child.waitForExit() == .signaled(signal: SIGKILL, coreDumped: false))
                try await child.close()
                try await reader.close()
            }
        }
    }
}
