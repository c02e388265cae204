import Testing

@testable import TetherYamux

/// How a stream ended is the state machine's record, kept until the owner releases the stream:
/// the session driver asks it and keeps no flags of its own.
@Suite("Session stream ends")
struct SessionStreamEndTests {
    /// An accepted stream 1 on both sides, with nothing queued.
    private func openedPair() throws -> SessionPair {
        var pair = try SessionPair()
        let id = try pair.mustOpen(.client)
        pair.pump()
        #expect(pair.server.session.acceptStream(nowNanoseconds: pair.nowNanoseconds) == id)
        pair.pump()
        return pair
    }

    @Test("a reset by the peer is kept until the stream is released")
    func peerResetIsKeptUntilReleased() throws {
        var pair = try openedPair()
        pair.client.session.resetStream(streamID: 1)
        pair.pump()
        let reset = MuxError(.streamReset, streamID: 1)
        #expect(pair.server.session.stream(1) == nil)
        #expect(pair.server.session.readStatus(of: 1) == .failed(reset))
        #expect(pair.server.session.streamFailure(1) == reset)
        #expect(pair.server.session.endedStreamCount == 1)
        // The stream's own end outlives the session's failure.
        pair.server.session.close(with: MuxError(.sessionClosed))
        #expect(pair.server.session.readStatus(of: 1) == .failed(reset))
        pair.server.session.releaseStream(1)
        #expect(pair.server.session.endedStreamCount == 0)
        #expect(pair.server.session.readStatus(of: 1) == .failed(MuxError(.sessionClosed)))
    }

    @Test("a stream closed both ways reads as finished, also after the session fails")
    func closedStreamReadsFinished() throws {
        var pair = try openedPair()
        pair.client.session.closeWrite(streamID: 1)
        pair.server.session.closeWrite(streamID: 1)
        pair.pump()
        for role in [MuxRole.client, .server] {
            #expect(pair[role].session.readStatus(of: 1) == .finished)
            #expect(pair[role].session.streamFailure(1) == nil)
            pair[role].session.close(with: MuxError(.sessionClosed))
            #expect(pair[role].session.readStatus(of: 1) == .finished)
            #expect(pair[role].session.streamFailure(1) == nil)
        }
    }

    @Test("the peer's FIN finishes reading; the session's failure then fails the stream")
    func finishedStreamFailsWithTheSession() throws {
        var pair = try openedPair()
        #expect(pair.server.session.readStatus(of: 1) == .open)
        pair.client.session.closeWrite(streamID: 1)
        pair.pump()
        #expect(pair.server.session.readStatus(of: 1) == .finished)
        #expect(pair.server.session.streamFailure(1) == nil)
        let failure = MuxError(.connectionClosed)
        pair.server.session.close(with: failure)
        #expect(pair.server.session.failure == failure)
        #expect(pair.server.session.readStatus(of: 1) == .failed(failure))
        #expect(pair.server.session.streamFailure(1) == failure)
        #expect(pair.server.session.endedStreamCount == 0)
    }

    @Test("releasing an open stream resets it and keeps nothing")
    func releasingAnOpenStreamResetsIt() throws {
        var pair = try openedPair()
        pair.server.session.releaseStream(1)
        pair.pump()
        #expect(pair.server.session.endedStreamCount == 0)
        #expect(pair.server.session.readStatus(of: 1) == .failed(MuxError(.streamClosed, streamID: 1)))
        #expect(pair.client.session.readStatus(of: 1) == .failed(MuxError(.streamReset, streamID: 1)))
        // A write on the reset stream fails with the reset, not with a generic `streamClosed`.
        var cursor = PayloadCursor([ArrayChunk([1])])
        let progress = pair.client.session.send(streamID: 1, payload: [ArrayChunk([1])], cursor: &cursor)
        #expect(progress == .failed(MuxError(.streamReset, streamID: 1)))
    }
}
