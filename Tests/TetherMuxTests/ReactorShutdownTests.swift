import Testing
import TetherMux
import TetherReactor
import TetherTesting

/// Shutting the reactor down under live sessions: every waiter fails with a specific error and
/// nothing hangs, although the sessions' code then runs on the queue that stands in for the
/// reactor thread.
@Suite(.timeLimit(.minutes(1))) struct ReactorShutdownTests {
    @Test func shutdownEndsLiveSessionsAndTheirWaiters() async throws {
        let reactor = try Reactor.start()
        let (a, b) = try StreamSocket.makePair(on: reactor)
        let client = try await MuxSession(socket: a, role: .client)
        let server = try await MuxSession(socket: b, role: .server)
        let stream = try await client.openStream()
        try await stream.write(BufferSlice(copying: [1, 2, 3]))
        let accepted = try await server.acceptStream()
        #expect(try await accepted.read()?.bytes == [1, 2, 3])
        // A reader parked on each side, and a server waiting to accept.
        let clientReader = Task(executorPreference: reactor) { try await stream.read() }
        let serverReader = Task(executorPreference: reactor) { try await accepted.read() }
        let acceptor = Task(executorPreference: reactor) { try await server.acceptStream() }
        while await client.waitingReaderCount == 0 { await Task.yield() }
        while await server.waitingReaderCount == 0 { await Task.yield() }
        await reactor.shutdown()
        // The connection is gone for both sessions: that is what every waiter hears.
        for reader in [clientReader, serverReader] {
            await #expect(throws: MuxError(.connectionClosed)) { _ = try await reader.value }
        }
        await #expect(throws: MuxError(.connectionClosed)) { _ = try await acceptor.value }
        await client.waitUntilFinished()
        await server.waitUntilFinished()
        #expect(await client.endReason?.code == .connectionClosed)
        #expect(await server.endReason?.code == .connectionClosed)
        // Later calls fail at once, with the same reason.
        await #expect(throws: MuxError(.connectionClosed)) { _ = try await client.openStream() }
        await #expect(throws: MuxError(.connectionClosed)) { try await stream.write(BufferSlice(copying: [4])) }
    }
}
