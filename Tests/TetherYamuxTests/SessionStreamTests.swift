import Testing

@testable import TetherYamux

/// Client against server: opening, data, half-close, reset, flow control.
@Suite("Session streams")
struct SessionStreamTests {
    @Test("open, send before ACK, accept, echo")
    func openAcceptEcho() throws {
        var pair = try SessionPair()
        let id = try pair.mustOpen(.client)
        #expect(id == 1)
        #expect(pair.client.session.unacknowledgedCount == 1)
        pair.write(.client, stream: id, payload(1000))
        pair.pump()
        #expect(pair.client.sentControl == [.windowUpdate(streamID: 1, flags: .syn, deltaBytes: 0)])
        #expect(pair.server.events == [.opened(1)])
        // 0-RTT data is delivered before the stream is accepted, and no ACK went out yet.
        #expect(pair.server.received[1] == payload(1000))
        #expect(pair.client.events.isEmpty)

        #expect(pair.server.session.acceptStream(nowNanoseconds: pair.nowNanoseconds) == 1)
        #expect(pair.server.session.acceptStream(nowNanoseconds: pair.nowNanoseconds) == nil)
        pair.write(.server, stream: 1, pair.server.received[1] ?? [])
        pair.pump()
        // The pump's reader consumed the 1000 early bytes, so the ACK also returns their credit.
        #expect(pair.server.sentControl == [.windowUpdate(streamID: 1, flags: .ack, deltaBytes: 1000)])
        #expect(pair.client.events == [.acknowledged(1)])
        #expect(pair.client.session.unacknowledgedCount == 0)
        #expect(pair.client.received[1] == payload(1000))
    }

    @Test("the connection may cut frames anywhere", arguments: [1, 5, 12, 13, 4095])
    func arbitraryWireChunks(chunkBytes: Int) throws {
        var pair = try SessionPair()
        pair.wireChunkBytes = chunkBytes
        let id = try pair.mustOpen(.client)
        let data = payload(70_000, seed: chunkBytes)
        #expect(pair.write(.client, stream: id, data, finishing: true) == data.count)
        pair.pump()
        #expect(pair.server.session.acceptStream(nowNanoseconds: 0) == id)
        #expect(pair.server.received[id] == data)
        #expect(pair.write(.server, stream: id, data, finishing: true) == data.count)
        pair.pump()
        #expect(pair.client.received[id] == data)
        #expect(pair.client.events == [.acknowledged(id), .finished(id), .closed(id)])
        #expect(pair.server.events == [.opened(id), .finished(id), .closed(id)])
    }

    @Test("stream IDs: client odd from 1, server even from 2, step 2")
    func streamIDs() throws {
        var pair = try SessionPair()
        #expect(pair.open(.client) == 1)
        #expect(pair.open(.client) == 3)
        #expect(pair.open(.server) == 2)
        #expect(pair.open(.server) == 4)
        pair.pump()
        #expect(pair.client.events == [.opened(2), .opened(4)])
        #expect(pair.server.events == [.opened(1), .opened(3)])
    }

    @Test("FIN each way: data with FIN, reply, close; both sides forget the stream")
    func halfCloseBothWays() throws {
        var pair = try SessionPair()
        let id = try pair.mustOpen(.client)
        pair.write(.client, stream: id, payload(10), finishing: true)
        pair.pump()
        #expect(pair.client.sentData == [.data(streamID: 1, flags: .fin, payloadBytes: 10)])
        #expect(pair.server.events == [.opened(1), .finished(1)])
        #expect(pair.client.session.stream(1)?.sendCreditBytes == nil)
        #expect(
            pair.client.session.reserveSend(streamID: 1, wantedBytes: 1)
                == .failed(MuxError(.streamClosed, streamID: 1)))

        _ = pair.server.session.acceptStream(nowNanoseconds: pair.nowNanoseconds)
        // The server's half is still open after the client's FIN.
        #expect(pair.write(.server, stream: 1, payload(20, seed: 1)) == 20)
        pair.server.session.closeWrite(streamID: 1)
        pair.drain(.server)
        #expect(pair.server.events.last == .closed(1))
        pair.pump()
        #expect(pair.server.sentControl.last == .windowUpdate(streamID: 1, flags: .fin, deltaBytes: 0))
        #expect(pair.client.received[1] == payload(20, seed: 1))
        #expect(pair.client.events == [.acknowledged(1), .finished(1), .closed(1)])
        #expect(pair.client.session.streamCount == 0)
        #expect(pair.server.session.streamCount == 0)
    }

    @Test("closing twice sends one FIN")
    func closeTwice() throws {
        var pair = try SessionPair()
        let id = try pair.mustOpen(.client)
        pair.client.session.closeWrite(streamID: id)
        pair.client.session.closeWrite(streamID: id)
        pair.pump()
        #expect(pair.client.sent(.windowUpdate).filter { $0.flags.contains(.fin) }.count == 1)
        #expect(pair.server.events == [.opened(1), .finished(1)])
    }

    @Test("a second FIN from the peer is a protocol error")
    func duplicateFin() throws {
        var pair = try SessionPair()
        let id = try pair.mustOpen(.client)
        pair.client.session.closeWrite(streamID: id)
        pair.pump()
        pair.inject(bytes(.windowUpdate(streamID: 1, flags: .fin, deltaBytes: 0)), into: .server)
        #expect(pair.server.events.last == .failed(MuxError(.unexpectedFin, streamID: 1)))
        #expect(pair.server.sentControl.last == .goAway(.protocolError))
    }

    @Test("Data after the peer's FIN is a protocol error")
    func dataAfterFin() throws {
        var pair = try SessionPair()
        let id = try pair.mustOpen(.client)
        pair.client.session.closeWrite(streamID: id)
        pair.pump()
        pair.inject(bytes(.data(streamID: 1, payloadBytes: 1)) + [7], into: .server)
        #expect(pair.server.events.last == .failed(MuxError(.dataAfterFin, streamID: 1, value: 1)))
        #expect(pair.server.sentControl.last == .goAway(.protocolError))
    }

    @Test("RST from the opener removes the stream on both sides; late frames are dropped")
    func resetByOpener() throws {
        var pair = try SessionPair()
        let id = try pair.mustOpen(.client)
        pair.pump()
        _ = pair.server.session.acceptStream(nowNanoseconds: pair.nowNanoseconds)
        pair.client.session.resetStream(streamID: id)
        #expect(pair.client.session.stream(id) == nil)
        pair.pump()
        #expect(pair.client.sentControl.last == .windowUpdate(streamID: 1, flags: .rst, deltaBytes: 0))
        #expect(pair.server.events == [.opened(1), .reset(1)])
        #expect(pair.server.session.streamCount == 0)
        // Frames the server had in flight reach a client that forgot the stream: ignored.
        pair.inject(bytes(.data(streamID: 1, payloadBytes: 3)) + [1, 2, 3], into: .client)
        pair.inject(bytes(.windowUpdate(streamID: 1, deltaBytes: 100)), into: .client)
        #expect(pair.client.received[1] == nil)
        #expect(!pair.client.session.isFailed)
        // The server's ACK crossed the RST and found no stream: ignored, and the slot was freed by the reset.
        #expect(pair.client.events.isEmpty)
        #expect(pair.client.session.unacknowledgedCount == 0)
    }

    @Test("RST from the acceptor frees the opener's ACK slot and drops the payload that came with it")
    func resetByAcceptor() throws {
        var pair = try SessionPair()
        let id = try pair.mustOpen(.client)
        pair.pump()
        pair.server.session.resetStream(streamID: id)
        pair.pump()
        #expect(pair.client.events == [.reset(1)])
        #expect(pair.client.session.unacknowledgedCount == 0)
        #expect(pair.server.session.acceptQueueCount == 0)
        #expect(pair.server.session.acceptStream(nowNanoseconds: 0) == nil)
        pair.inject(bytes(.data(streamID: 1, flags: .rst, payloadBytes: 2)) + [9, 9], into: .server)
        #expect(pair.server.received[1] == nil)
        #expect(!pair.server.session.isFailed)
    }

    @Test("Data is split into frames of at most maxFrameBytes")
    func splitFrames() throws {
        var configuration = MuxConfiguration.testDefault
        configuration.maxFrameBytes = 16 * 1024
        var pair = try SessionPair(client: configuration)
        let id = try pair.mustOpen(.client)
        #expect(pair.write(.client, stream: id, payload(100_000)) == 100_000)
        #expect(pair.client.sentData.map(\.length) == [16384, 16384, 16384, 16384, 16384, 16384, 1696])
        pair.pump()
        #expect(pair.server.received[1] == payload(100_000))
    }

    @Test("a writer never exceeds the peer's window, waits, and is woken by its WindowUpdate")
    func flowControl() throws {
        var pair = try SessionPair()
        pair.server.autoConsume = false
        let id = try pair.mustOpen(.client)
        let data = payload(600_000)
        var sent = pair.write(.client, stream: id, data)
        #expect(sent == 262_144)
        #expect(pair.client.session.reserveSend(streamID: id, wantedBytes: 1) == .mustWait(.window))
        pair.pump()
        #expect(pair.server.received[1]?.count == 262_144)

        // Below half the window consumed: no update, the writer still waits.
        pair.server.session.consumed(streamID: id, byteCount: 100_000, nowNanoseconds: pair.nowNanoseconds)
        pair.pump()
        #expect(pair.client.events.isEmpty)
        pair.server.session.consumed(streamID: id, byteCount: 62_144, nowNanoseconds: pair.nowNanoseconds)
        pair.pump()
        #expect(pair.server.sentControl.last == .windowUpdate(streamID: 1, deltaBytes: 162_144))
        #expect(pair.client.events == [.writable(1)])

        pair.server.autoConsume = true
        pair.server.session.consumed(streamID: id, byteCount: 100_000, nowNanoseconds: pair.nowNanoseconds)
        while sent < data.count {
            sent += pair.write(.client, stream: id, Array(data[sent...]))
            pair.pump()
        }
        #expect(pair.server.received[1] == data)
    }

    @Test("a larger configured window is granted with SYN and ACK on top of 256 KiB")
    func largerWindow() throws {
        var configuration = MuxConfiguration.testDefault
        configuration.streamWindowBytes = 1 << 20
        var pair = try SessionPair(client: configuration, server: configuration)
        let id = try pair.mustOpen(.client)
        pair.pump()
        _ = pair.server.session.acceptStream(nowNanoseconds: 0)
        pair.pump()
        #expect(pair.client.sentControl == [.windowUpdate(streamID: 1, flags: .syn, deltaBytes: 786_432)])
        #expect(pair.server.sentControl == [.windowUpdate(streamID: 1, flags: .ack, deltaBytes: 786_432)])
        #expect(pair.client.session.stream(id)?.sendCreditBytes == 1 << 20)
        #expect(pair.server.session.stream(id)?.sendCreditBytes == 1 << 20)
    }

    @Test("receive windows auto-tune under the session budget and give it back on close")
    func autotune() throws {
        var configuration = MuxConfiguration.testDefault
        configuration.windowAutoTuning = true
        configuration.maxStreamWindowBytes = 1 << 20
        configuration.sessionReceiveBudgetBytes = 600_000
        var pair = try SessionPair(client: configuration, server: configuration)
        pair.client.session.tick(nowNanoseconds: pair.nowNanoseconds)  // round-trip probe
        #expect(pair.client.session.nextDeadlineNanoseconds == pair.nowNanoseconds + 10_000_000_000)
        pair.nowNanoseconds += 1_000_000
        pair.pump()
        #expect(pair.client.session.rttNanoseconds == 1_000_000)
        #expect(pair.client.events.isEmpty)  // probes are not reported

        let id = try pair.mustOpen(.server)
        pair.pump()
        _ = pair.client.session.acceptStream(nowNanoseconds: pair.nowNanoseconds)
        for _ in 0..<20 {
            pair.nowNanoseconds += 100_000  // updates every 0.1 ms, far below 2 × RTT
            pair.write(.server, stream: id, payload(300_000))
            pair.pump()
        }
        let window = try #require(pair.client.session.stream(id)?.receiveWindow)
        // 256 KiB doubled to 512 KiB (262144 taken), then +337856: the rest of the 600000 budget.
        #expect(window.maxWindowBytes == 262_144 + 600_000)
        #expect(pair.client.session.receiveBudgetRemainingBytes == 0)
        pair.client.session.resetStream(streamID: id)
        #expect(pair.client.session.receiveBudgetRemainingBytes == 600_000)
    }
}
