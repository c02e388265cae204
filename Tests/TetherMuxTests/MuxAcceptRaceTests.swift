import Testing
import TetherReactor
import TetherTesting

@testable import TetherMux

/// Orderings the socket produces only sometimes, made certain by handing the session its input
/// the way the reactor does: several receive completions in one loop turn, before any job runs.
@Suite(.timeLimit(.minutes(1))) struct MuxAcceptRaceTests {
    /// A stream is handed to a waiting `acceptStream()` by one completion and reset by the next
    /// one of the same turn, before the waiter's task runs: the handle it gets reads the bytes
    /// that came first and then fails with the reset; it neither waits for data that cannot come
    /// nor loses what arrived.
    @Test func aStreamResetBeforeItsAcceptorRunsFailsItsHandle() async throws {
        var quiet = MuxConfiguration()
        quiet.keepAliveIntervalNanoseconds = nil
        let configuration = quiet
        try await withReactor { reactor in
            let (victimSocket, raw) = try StreamSocket.makePair(on: reactor)
            let victim = try await MuxSession(socket: victimSocket, role: .server, configuration: configuration)
            let acceptor = Task(executorPreference: reactor) { try await victim.acceptStream() }
            #expect(try await eventually(on: reactor) { await victim.diagnostics.contains("acceptWaiters=1") })
            var opening: [UInt8] = []
            FrameHeader.data(streamID: 1, flags: .syn, payloadBytes: 3).encode(into: &opening)
            opening += Array("abc".utf8)
            let reset = FrameHeader.windowUpdate(streamID: 1, flags: .rst, deltaBytes: 0).encoded()
            await victim.receiveInOneTurn([BufferSlice(copying: opening), BufferSlice(copying: reset)])
            let stream = try await acceptor.value
            // The bytes that came before the reset, then the reset itself.
            let (read, failure) = try await reactor.withDeadline(.seconds(10)) {
                () async throws -> ([UInt8], MuxError?) in
                var read: [UInt8] = []
                do {
                    while let slice = try await stream.read() { read += slice.bytes }
                    return (read, nil)
                } catch let error as MuxError {
                    return (read, error)
                }
            }
            #expect(read == Array("abc".utf8))
            #expect(failure == MuxError(.streamReset, streamID: 1))
            await victim.close()
            try? await raw.close()
        }
    }
}

extension MuxSession {
    /// Delivers `chunks` as consecutive receive completions with no job in between.
    fileprivate func receiveInOneTurn(_ chunks: [BufferSlice]) {
        for chunk in chunks { received(.success(chunk)) }
    }
}
