import Testing

@testable import TetherYamux

private let second: UInt64 = 1_000_000_000

/// Client against server: GoAway, ping, keepalive, end of connection.
@Suite("Session lifecycle")
struct SessionLifecycleTests {
    @Test("GoAway(normal) stops new streams only; existing streams keep working")
    func goAwayNormal() throws {
        var pair = try SessionPair()
        let id = try pair.mustOpen(.client)
        pair.pump()
        _ = pair.server.session.acceptStream(nowNanoseconds: 0)
        pair.server.session.goAway()
        pair.server.session.goAway()  // idempotent: one frame
        pair.pump()
        #expect(pair.server.sent(.goAway) == [.goAway(.normal)])
        #expect(pair.client.events == [.acknowledged(1), .remoteGoAway])
        #expect(pair.client.session.remoteGoAwayReceived)
        #expect(pair.client.session.openStream(nowNanoseconds: 0) == .refused(MuxError(.remoteGoAway, value: 0)))

        #expect(pair.write(.client, stream: id, payload(50)) == 50)
        #expect(pair.write(.server, stream: id, payload(60)) == 60)
        pair.pump()
        #expect(pair.server.received[id] == payload(50))
        #expect(pair.client.received[id] == payload(60))
        #expect(!pair.client.session.isFailed && !pair.server.session.isFailed)
    }

    @Test("after a local GoAway every incoming SYN gets RST, and its payload is dropped")
    func synAfterLocalGoAway() throws {
        var pair = try SessionPair()
        pair.server.session.goAway()
        pair.drain(.server)
        pair.inject(bytes(.data(streamID: 1, flags: .syn, payloadBytes: 3)) + [1, 2, 3], into: .server)
        #expect(pair.server.sentControl == [.goAway(.normal), .windowUpdate(streamID: 1, flags: .rst, deltaBytes: 0)])
        #expect(pair.server.events.isEmpty)
        #expect(pair.server.received.isEmpty)
        #expect(pair.server.session.streamCount == 0)
    }

    @Test("GoAway(protocol error) ends both sessions")
    func goAwayProtocolError() throws {
        var pair = try SessionPair()
        _ = pair.open(.client)
        pair.pump()
        pair.client.session.goAway(.protocolError)
        pair.pump()
        #expect(pair.client.sentControl.last == .goAway(.protocolError))
        #expect(pair.client.events == [.failed(MuxError(.localGoAway, value: 1))])
        #expect(pair.server.events == [.opened(1), .failed(MuxError(.remoteGoAway, value: 1))])
        #expect(pair.server.session.streamCount == 0)
        #expect(pair.server.session.openStream(nowNanoseconds: 0) == .refused(MuxError(.remoteGoAway, value: 1)))
        #expect(pair.server.session.acceptStream(nowNanoseconds: 0) == nil)
        #expect(throws: MuxError(.remoteGoAway, value: 1)) { try pair.server.session.ping(nowNanoseconds: 0) }
    }

    @Test("GoAway with internal error or an unknown code also ends the session", arguments: [UInt32(2), 77])
    func goAwayOtherCodes(code: UInt32) throws {
        var pair = try SessionPair()
        pair.inject(bytes(FrameHeader(type: .goAway, streamID: 0, length: code)), into: .client)
        #expect(pair.client.events == [.failed(MuxError(.remoteGoAway, value: UInt64(code)))])
        #expect(pair.client.sentControl.isEmpty)
        // Input after the failure is ignored.
        pair.inject(bytes(.ping(opaque: 1, reply: false)), into: .client)
        #expect(pair.client.sentControl.isEmpty)
    }

    @Test("ping request and reply, with a round-trip time")
    func ping() throws {
        var pair = try SessionPair()
        let opaque = try pair.client.session.ping(nowNanoseconds: pair.nowNanoseconds)
        pair.drain(.client)
        pair.nowNanoseconds += 250_000
        pair.pump()
        #expect(pair.client.sentControl == [.ping(opaque: opaque, reply: false)])
        #expect(pair.server.sentControl == [.ping(opaque: opaque, reply: true)])
        #expect(pair.client.events == [.pingAnswered(opaque)])
        #expect(pair.client.session.rttNanoseconds == 250_000)
        #expect(pair.server.events.isEmpty)
    }

    @Test("an unanswered user ping is reported after the timeout; the session lives on")
    func pingTimeout() throws {
        var configuration = MuxConfiguration.testDefault
        configuration.keepAliveIntervalNanoseconds = nil
        var pair = try SessionPair(client: configuration)
        let opaque = try pair.client.session.ping(nowNanoseconds: 0)
        pair.client.session.tick(nowNanoseconds: 9 * second)
        pair.drain(.client)
        #expect(pair.client.events.isEmpty)
        pair.client.session.tick(nowNanoseconds: 10 * second)
        pair.drain(.client)
        #expect(pair.client.events == [.pingTimedOut(opaque)])
        #expect(!pair.client.session.isFailed)
        #expect(pair.client.session.nextDeadlineNanoseconds == nil)
    }

    @Test("too many outstanding pings are refused")
    func pingLimit() throws {
        var configuration = MuxConfiguration.testDefault
        configuration.maxOutstandingPings = 2
        var pair = try SessionPair(client: configuration)
        _ = try pair.client.session.ping(nowNanoseconds: 0)
        _ = try pair.client.session.ping(nowNanoseconds: 0)
        #expect(throws: MuxError(.tooManyPings, value: 2)) { try pair.client.session.ping(nowNanoseconds: 0) }
    }

    @Test("keepalive: a ping every interval; answered pings keep the session alive")
    func keepAliveAnswered() throws {
        var pair = try SessionPair()
        let start = pair.nowNanoseconds
        #expect(pair.client.session.nextDeadlineNanoseconds == start + 30 * second)
        pair.client.session.tick(nowNanoseconds: start + 29 * second)
        pair.drain(.client)
        #expect(pair.client.sentControl.isEmpty)

        pair.nowNanoseconds = start + 30 * second
        pair.client.session.tick(nowNanoseconds: pair.nowNanoseconds)
        pair.pump()
        #expect(pair.client.sentControl == [.ping(opaque: 0, reply: false)])
        #expect(pair.server.sentControl == [.ping(opaque: 0, reply: true)])
        pair.client.session.tick(nowNanoseconds: start + 45 * second)
        pair.drain(.client)
        #expect(!pair.client.session.isFailed)
        #expect(pair.client.events.isEmpty)  // keepalive replies are not reported
        #expect(pair.client.session.nextDeadlineNanoseconds == start + 60 * second)
    }

    @Test("keepalive: no reply within the timeout fails the session without a GoAway")
    func keepAliveTimeout() throws {
        var pair = try SessionPair()
        let start = pair.nowNanoseconds
        pair.client.session.tick(nowNanoseconds: start + 30 * second)
        pair.drain(.client)
        pair.client.outgoing = []  // the peer never sees the ping
        #expect(pair.client.session.nextDeadlineNanoseconds == start + 40 * second)
        pair.client.session.tick(nowNanoseconds: start + 40 * second - 1)
        pair.drain(.client)
        #expect(pair.client.events.isEmpty)
        pair.client.session.tick(nowNanoseconds: start + 40 * second)
        pair.drain(.client)
        #expect(pair.client.events == [.failed(MuxError(.keepAliveTimeout, value: 0))])
        #expect(pair.client.sentControl == [.ping(opaque: 0, reply: false)])
        #expect(pair.client.session.nextDeadlineNanoseconds == nil)
    }

    @Test("the end of the connection fails the session once")
    func connectionClosed() throws {
        var pair = try SessionPair()
        _ = pair.open(.client)
        pair.client.session.connectionClosed()
        pair.client.session.connectionClosed()
        pair.drain(.client)
        #expect(pair.client.events == [.failed(MuxError(.connectionClosed))])
        #expect(pair.client.session.streamCount == 0)
        #expect(pair.client.session.openStream(nowNanoseconds: 0) == .refused(MuxError(.connectionClosed)))
    }
}
