import Testing

@testable import TetherYamux

/// The outbound frame buffer and the limits on what a peer can make a session hold: reply frames
/// for a peer that does not read, outbound data, unread bytes across streams, stream IDs.
@Suite("Session outbound buffer and receive limits")
struct SessionOutboundTests {
    /// `count` pings from the peer, encoded back to back.
    private func pings(_ count: Int, from first: Int = 0) -> [UInt8] {
        var bytes: [UInt8] = []
        for opaque in first..<(first + count) {
            FrameHeader.ping(opaque: UInt32(opaque), reply: false).encode(into: &bytes)
        }
        return bytes
    }

    /// The opaque values of the ping replies `session` queued, taken as one written batch.
    private func takeReplies(_ session: inout SessionState<ArrayChunk>, written: Bool = true) -> [UInt32] {
        var replies: [UInt32] = []
        session.takeOutbound(nowNanoseconds: 0) { item in
            if case .header(let header) = item, header.type == .ping { replies.append(header.length) }
        }
        if written { session.outboundWritten(nowNanoseconds: 0) }
        return replies
    }

    @Test("a ping flood stops parsing while its replies wait, and answers every ping in order")
    func pingFloodPausesInput() throws {
        var configuration = MuxConfiguration.testDefault
        configuration.pauseInputAtReplyFrames = 16
        var session = try SessionState<ArrayChunk>(role: .server, configuration: configuration, nowNanoseconds: 0)
        var progress = session.receive(ArrayChunk(pings(100)), nowNanoseconds: 0)
        var replies: [UInt32] = []
        var pauses = 0
        while progress == .outputBlocked {
            #expect(session.outbound.outstandingReplyFrames == 16)
            pauses += 1
            replies += takeReplies(&session)
            progress = session.resumeReceiving(nowNanoseconds: 0)
        }
        #expect(progress == .needsInput)
        replies += takeReplies(&session)
        #expect(pauses == 6)
        #expect(replies == Array(0..<100))
    }

    @Test("while the connection takes nothing, a ping flood holds at most pauseInputAtReplyFrames replies")
    func pingFloodAgainstAPeerThatDoesNotRead() throws {
        var configuration = MuxConfiguration.testDefault
        configuration.pauseInputAtReplyFrames = 16
        var session = try SessionState<ArrayChunk>(role: .server, configuration: configuration, nowNanoseconds: 0)
        #expect(session.receive(ArrayChunk(pings(1000)), nowNanoseconds: 0) == .outputBlocked)
        // The connection takes a batch and never finishes writing it.
        #expect(takeReplies(&session, written: false) == Array(0..<16))
        for _ in 0..<10 {
            #expect(session.resumeReceiving(nowNanoseconds: 0) == .outputBlocked)
            #expect(session.outbound.outstandingReplyFrames == 16)
            #expect(!session.hasOutbound)
        }
        #expect(!session.isFailed)
        // The peer reads again: the rest is answered.
        session.outboundWritten(nowNanoseconds: 0)
        var replies: [UInt32] = []
        while session.resumeReceiving(nowNanoseconds: 0) == .outputBlocked { replies += takeReplies(&session) }
        replies += takeReplies(&session)
        #expect(replies == Array(16..<1000))
    }

    @Test("past maxOutboundReplyFrames the session fails with GoAway(protocol error)")
    func replyLimitFailsTheSession() throws {
        var configuration = MuxConfiguration.testDefault
        configuration.maxOutboundReplyFrames = 32
        configuration.pauseInputAtReplyFrames = 32  // never stop reading: fail at the limit instead
        var session = try SessionState<ArrayChunk>(role: .server, configuration: configuration, nowNanoseconds: 0)
        _ = session.receive(ArrayChunk(pings(50)), nowNanoseconds: 0)
        #expect(session.failure == MuxError(.outboundQueueFull, value: 33))
        var goAway: FrameHeader?
        session.takeOutbound(nowNanoseconds: 0) { item in
            if case .header(let header) = item, header.type == .goAway { goAway = header }
        }
        #expect(goAway == .goAway(.protocolError))
    }

    @Test("SYNs refused while the peer does not read stop parsing like pings")
    func refusedSynFloodPausesInput() throws {
        var configuration = MuxConfiguration.testDefault
        configuration.acceptBacklog = 1
        configuration.pauseInputAtReplyFrames = 8
        var session = try SessionState<ArrayChunk>(role: .server, configuration: configuration, nowNanoseconds: 0)
        var flood: [UInt8] = []
        for index in 0..<100 {
            FrameHeader.windowUpdate(streamID: UInt32(2 * index + 1), flags: .syn, deltaBytes: 0).encode(into: &flood)
        }
        #expect(session.receive(ArrayChunk(flood), nowNanoseconds: 0) == .outputBlocked)
        var resets = 0
        session.takeOutbound(nowNanoseconds: 0) { item in
            if case .header(let header) = item, header.flags.contains(.rst) { resets += 1 }
        }
        #expect(resets == 8)
        #expect(session.resumeReceiving(nowNanoseconds: 0) == .outputBlocked)
        #expect(session.outbound.outstandingReplyFrames == 8)
    }

    @Test("control frames go ahead of queued data, FIN and RST behind it — on the wire of the pump too")
    func wireOrder() throws {
        var pair = try SessionPair()
        let stream = try pair.mustOpen(.client)
        pair.pump()
        let chunks = [ArrayChunk(payload(100))]
        var cursor = PayloadCursor(chunks)
        #expect(pair.client.session.send(streamID: stream, payload: chunks, cursor: &cursor) == .done)
        pair.client.session.closeWrite(streamID: stream)
        let ping = try pair.client.session.ping(nowNanoseconds: 0)
        var order: [FrameHeader] = []
        pair.client.session.takeOutbound(nowNanoseconds: 0) { item in
            if case .header(let header) = item { order.append(header) }
        }
        #expect(
            order == [
                .ping(opaque: ping, reply: false),
                .data(streamID: stream, flags: [], payloadBytes: 100),
                .windowUpdate(streamID: stream, flags: .fin, deltaBytes: 0),
            ])
    }

    @Test("writers wait while maxOutboundDataBytes wait for the connection, and go on once it takes them")
    func outboundDataLimit() throws {
        var configuration = MuxConfiguration.testDefault
        configuration.maxOutboundDataBytes = 100_000
        configuration.maxFrameBytes = 16_384
        var pair = try SessionPair(client: configuration)
        let stream = try pair.mustOpen(.client)
        pair.pump()
        pair.client.wireBlocked = true
        let data = payload(250_000)
        // The first batch goes in flight; the limit counts it until it is written.
        let queued = pair.write(.client, stream: stream, data)
        #expect(queued >= 100_000 && queued < 100_000 + 16_384)
        #expect(pair.client.session.outbound.outstandingDataBytes == queued)
        #expect(pair.write(.client, stream: stream, Array(data[queued...])) == 0)
        // It waits for room, not credit: the peer's window still has some.
        #expect(pair.client.session.reserveSend(streamID: stream, wantedBytes: 1) == .mustWait(.outbound))
        pair.client.wireBlocked = false
        pair.pump()
        #expect(pair.client.events.contains(.writable(stream)))
        var sent = queued
        while sent < data.count {
            let more = pair.write(.client, stream: stream, Array(data[sent...]))
            #expect(more > 0)
            sent += more
            pair.pump()
        }
        #expect(pair.server.received[stream] == data)
    }

    @Test("a write that makes no progress for writeTimeout fails the session; progress restarts the clock")
    func writeTimeout() throws {
        var configuration = MuxConfiguration.testDefault
        configuration.writeTimeoutNanoseconds = 1_000
        var session = try SessionState<ArrayChunk>(role: .client, configuration: configuration, nowNanoseconds: 0)
        _ = session.openStream(nowNanoseconds: 0)
        session.takeOutbound(nowNanoseconds: 100) { _ in }
        #expect(session.nextDeadlineNanoseconds == 1_100)
        session.tick(nowNanoseconds: 1_000)
        #expect(!session.isFailed)
        session.outboundProgressed(nowNanoseconds: 1_000)
        session.tick(nowNanoseconds: 1_999)
        #expect(!session.isFailed)
        #expect(session.isWriteStalled(nowNanoseconds: 2_000))
        session.tick(nowNanoseconds: 2_000)
        #expect(session.failure == MuxError(.writeTimeout))
        // After the failure the owner still learns when closing writes stall.
        #expect(session.nextDeadlineNanoseconds == 2_000)
        session.outboundWritten(nowNanoseconds: 2_100)
        #expect(!session.isWriteStalled(nowNanoseconds: 10_000))
    }

    @Test("a SYN reusing a stream ID after RST or a full close is a protocol error")
    func streamIDReuse() throws {
        for ending in ["reset", "closed", "refused"] {
            var configuration = MuxConfiguration.testDefault
            if ending == "refused" { configuration.acceptBacklog = 1 }
            var pair = try SessionPair(server: configuration)
            let first = try pair.mustOpen(.client)
            let second = try pair.mustOpen(.client)
            pair.pump()
            switch ending {
            case "reset":
                pair.client.session.resetStream(streamID: second)
            case "closed":
                #expect(pair.server.session.acceptStream(nowNanoseconds: 0) == first)
                #expect(pair.server.session.acceptStream(nowNanoseconds: 0) == second)
                pair.client.session.closeWrite(streamID: second)
                pair.pump()
                pair.server.session.closeWrite(streamID: second)
            default:
                #expect(pair.server.events.contains(.opened(first)) && !pair.server.events.contains(.opened(second)))
            }
            pair.pump()
            #expect(pair.server.session.stream(second) == nil, "\(ending)")
            pair.inject(bytes(.windowUpdate(streamID: second, flags: .syn, deltaBytes: 0)), into: .server)
            #expect(
                pair.server.session.failure == MuxError(.streamIDReused, streamID: second, value: UInt64(second)),
                "\(ending)")
            #expect(pair.server.sentControl.last == .goAway(.protocolError), "\(ending)")
        }
    }

    @Test("SYNs may arrive out of order (concurrent opens), each ID once")
    func outOfOrderSyns() throws {
        var pair = try SessionPair()
        for streamID: UInt32 in [7, 3, 1, 5] {
            pair.inject(bytes(.windowUpdate(streamID: streamID, flags: .syn, deltaBytes: 0)), into: .server)
        }
        #expect(!pair.server.session.isFailed)
        #expect(pair.server.events == [.opened(7), .opened(3), .opened(1), .opened(5)])
        pair.inject(bytes(.windowUpdate(streamID: 3, flags: .rst, deltaBytes: 0)), into: .server)
        pair.inject(bytes(.windowUpdate(streamID: 3, flags: .syn, deltaBytes: 0)), into: .server)
        #expect(pair.server.session.failure == MuxError(.streamIDReused, streamID: 3, value: 7))
    }

    @Test("an ID skipped more than 1,024 streams ago counts as used")
    func skippedLongAgo() throws {
        var pair = try SessionPair()
        pair.inject(bytes(.windowUpdate(streamID: 4_001, flags: .syn, deltaBytes: 0)), into: .server)
        // 2,000 IDs were skipped; the 1,024 closest to 4,001 may still come.
        pair.inject(bytes(.windowUpdate(streamID: 4_001 - 2 * 1_024, flags: .syn, deltaBytes: 0)), into: .server)
        #expect(!pair.server.session.isFailed)
        pair.inject(bytes(.windowUpdate(streamID: 4_001 - 2 * 1_025, flags: .syn, deltaBytes: 0)), into: .server)
        #expect(pair.server.session.failure == MuxError(.streamIDReused, streamID: 4_001 - 2 * 1_025, value: 4_001))
    }

    @Test("unread bytes across streams stop at maxBufferedBytes: past it data resets its stream and SYNs get RST")
    func bufferedBytesBudget() throws {
        var configuration = MuxConfiguration.testDefault
        configuration.maxBufferedBytes = 600_000
        var client = MuxConfiguration.testDefault
        client.maxFrameBytes = 256 * 1024  // one frame per write
        var pair = try SessionPair(client: client, server: configuration)
        pair.server.autoConsume = false
        var streams: [UInt32] = []
        for _ in 0..<3 { streams.append(try pair.mustOpen(.client)) }
        pair.pump()
        for stream in streams { #expect(pair.write(.client, stream: stream, payload(200_000)) == 200_000) }
        pair.pump()
        #expect(pair.server.session.bufferedBytes == 600_000)
        // A fourth stream is refused while the budget is used up.
        let fourth = try pair.mustOpen(.client)
        pair.pump()
        #expect(pair.client.events.contains(.reset(fourth)))
        // Reading frees the budget.
        pair.server.session.consumed(streamID: streams[0], byteCount: 200_000, nowNanoseconds: 0)
        #expect(pair.server.session.bufferedBytes == 400_000)
        let fifth = try pair.mustOpen(.client)
        pair.pump()
        #expect(pair.server.events.contains(.opened(fifth)))
        // Data past the budget resets its stream and is dropped, never delivered.
        #expect(pair.write(.client, stream: fifth, payload(250_000)) == 250_000)
        pair.pump()
        #expect(
            pair.server.events.contains(
                .dropped(fifth, MuxError(.receiveBudgetExceeded, streamID: fifth, value: 250_000))))
        #expect(pair.server.received[fifth] == nil)
        #expect(pair.client.events.contains(.reset(fifth)))
        #expect(pair.server.session.bufferedBytes == 400_000)
        #expect(!pair.server.session.isFailed)
    }

    @Test("a window update that would pass maxBufferedBytes waits until reads on any stream make room")
    func windowUpdatesWaitForTheBudget() throws {
        var configuration = MuxConfiguration.testDefault
        configuration.maxBufferedBytes = 300_000
        var pair = try SessionPair(server: configuration)
        pair.server.autoConsume = false
        let idle = try pair.mustOpen(.client)
        let busy = try pair.mustOpen(.client)
        pair.pump()
        #expect(pair.write(.client, stream: idle, payload(256 * 1024)) == 256 * 1024)
        pair.pump()
        // `busy` is read as it arrives. Its update comes due once 150,000 bytes were read, but its
        // credit would take the session past the budget while `idle` holds 256 KiB unread.
        for _ in 0..<5 {
            #expect(pair.write(.client, stream: busy, payload(30_000)) == 30_000)
            pair.pump()
            pair.server.session.consumed(streamID: busy, byteCount: 30_000, nowNanoseconds: 0)
            pair.pump()
        }
        #expect(pair.server.session.stream(busy)?.isUpdateDue == true)
        #expect(
            !pair.server.sentControl.contains { $0.streamID == busy && $0.type == .windowUpdate && $0.flags.isEmpty })
        // Reading `idle` makes room: `busy` gets its update.
        pair.server.session.consumed(streamID: idle, byteCount: 256 * 1024, nowNanoseconds: 0)
        pair.pump()
        #expect(pair.server.sentControl.contains(.windowUpdate(streamID: busy, deltaBytes: 150_000)))
        #expect(pair.server.session.stream(busy)?.isUpdateDue == false)
    }

    @Test(
        "credit granted and not used yet counts against maxBufferedBytes: a peer that keeps to its windows is not reset"
    )
    func grantedCreditCountsAgainstTheBudget() throws {
        var configuration = MuxConfiguration.testDefault
        configuration.maxBufferedBytes = 600_000
        var pair = try SessionPair(server: configuration)
        pair.server.autoConsume = false
        let window = 256 * 1024
        var streams: [UInt32] = []
        for _ in 0..<3 { streams.append(try pair.mustOpen(.client)) }
        pair.pump()
        // Each stream's first 256 KiB is read at once, so its update of 256 KiB comes due. The
        // third would promise more than the budget holds while the first two are unused: it waits.
        for stream in streams {
            #expect(pair.write(.client, stream: stream, payload(window)) == window)
            pair.pump()
            pair.server.session.consumed(streamID: stream, byteCount: window, nowNanoseconds: 0)
            pair.pump()
        }
        #expect(pair.server.session.grantedCreditBytes == UInt64(2 * window))
        #expect(pair.server.session.withheldUpdates == [streams[2]])
        // The peer uses every byte of credit it has; nobody reads. Nothing is reset or dropped.
        for stream in streams { _ = pair.write(.client, stream: stream, payload(window)) }
        pair.pump()
        #expect(pair.server.session.bufferedBytes == UInt64(2 * window))
        #expect(pair.server.session.grantedCreditBytes == 0)
        #expect(!pair.server.events.contains { if case .dropped = $0 { true } else { false } })
        #expect(!pair.client.events.contains { if case .reset = $0 { true } else { false } })
        // Reading makes room. The oldest waiting update goes out first, once; each stream read
        // after it waits its turn: the first stream's update behind the third's, the second's
        // behind the first's.
        pair.server.session.consumed(streamID: streams[0], byteCount: window, nowNanoseconds: 0)
        #expect(pair.server.session.withheldUpdates == [streams[0]])
        pair.server.session.consumed(streamID: streams[1], byteCount: window, nowNanoseconds: 0)
        pair.pump()
        #expect(
            pair.server.sentControl.filter { $0.streamID == streams[2] && $0.type == .windowUpdate && $0.flags.isEmpty }
                .count == 1)
        #expect(pair.server.session.withheldUpdates == [streams[1]])
        #expect(pair.server.session.bufferedBytes + pair.server.session.grantedCreditBytes <= 600_000)
    }
}
