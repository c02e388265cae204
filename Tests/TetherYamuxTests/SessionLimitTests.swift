import Testing

@testable import TetherYamux

/// Client against server: backlogs, stream-ID rules, malformed or hostile input.
@Suite("Session limits and protocol errors")
struct SessionLimitTests {
    @Test("a full accept backlog answers new SYNs with RST")
    func acceptBacklog() throws {
        var configuration = MuxConfiguration.testDefault
        configuration.acceptBacklog = 2
        var pair = try SessionPair(server: configuration)
        for _ in 0..<3 { _ = pair.open(.client) }
        pair.pump()
        #expect(pair.server.events == [.opened(1), .opened(3)])
        #expect(pair.server.sentControl == [.windowUpdate(streamID: 5, flags: .rst, deltaBytes: 0)])
        #expect(pair.client.events == [.reset(5)])
        #expect(pair.server.session.acceptQueueCount == 2)

        #expect(pair.server.session.acceptStream(nowNanoseconds: 0) == 1)
        _ = pair.open(.client)
        pair.pump()
        #expect(pair.server.events.last == .opened(7))
        #expect(pair.server.session.acceptStream(nowNanoseconds: 0) == 3)
        #expect(pair.server.session.acceptStream(nowNanoseconds: 0) == 7)
    }

    @Test("at most maxUnacknowledgedStreams un-ACKed streams; an ACK frees a slot")
    func ackBacklog() throws {
        var configuration = MuxConfiguration.testDefault
        configuration.maxUnacknowledgedStreams = 2
        var pair = try SessionPair(client: configuration)
        #expect(pair.open(.client) == 1)
        #expect(pair.open(.client) == 3)
        #expect(pair.client.session.openStream(nowNanoseconds: 0) == .mustWait)
        pair.pump()
        _ = pair.server.session.acceptStream(nowNanoseconds: 0)
        pair.pump()
        #expect(pair.client.events == [.acknowledged(1), .openSlotAvailable])
        #expect(pair.open(.client) == 5)
        #expect(pair.client.session.openStream(nowNanoseconds: 0) == .mustWait)
        // A reset of an un-ACKed stream frees its slot too.
        pair.server.session.resetStream(streamID: 3)
        pair.pump()
        #expect(pair.client.events.suffix(2) == [.openSlotAvailable, .reset(3)])
        #expect(pair.client.session.unacknowledgedCount == 1)
    }

    @Test("maxConcurrentStreams bounds the table: refuse locally, RST remotely")
    func concurrentStreams() throws {
        var configuration = MuxConfiguration.testDefault
        configuration.maxConcurrentStreams = 1
        var pair = try SessionPair(client: configuration, server: configuration)
        #expect(pair.open(.client) == 1)
        #expect(pair.client.session.openStream(nowNanoseconds: 0) == .refused(MuxError(.tooManyStreams, value: 1)))
        #expect(pair.open(.server) == 2)
        pair.pump()
        #expect(pair.client.sentControl.last == .windowUpdate(streamID: 2, flags: .rst, deltaBytes: 0))
        #expect(pair.server.events.contains(.reset(2)))
    }

    @Test("an incoming SYN with this side's parity is a protocol error")
    func parity() throws {
        var pair = try SessionPair()
        pair.inject(bytes(.windowUpdate(streamID: 2, flags: .syn, deltaBytes: 0)), into: .server)
        #expect(pair.server.events == [.failed(MuxError(.streamIDParity, streamID: 2))])
        #expect(pair.server.sentControl == [.goAway(.protocolError)])
        pair.pump()
        #expect(pair.client.events == [.failed(MuxError(.remoteGoAway, value: 1))])
    }

    @Test("a failed session lets go of the received buffers it had not parsed")
    func failureReleasesInput() throws {
        var pair = try SessionPair()
        _ = pair.open(.client)
        pair.pump()
        // A duplicate SYN, then the start of a Data frame whose payload never completes.
        var storage = ChunkStorage(
            bytes(.windowUpdate(streamID: 1, flags: .syn, deltaBytes: 0)) + bytes(.data(streamID: 1, payloadBytes: 10))
                + [1, 2, 3])
        pair.server.session.receive(ArrayChunk(storage: storage, range: 0..<storage.bytes.count), nowNanoseconds: 0)
        #expect(pair.server.session.isFailed)
        #expect(isKnownUniquelyReferenced(&storage))
    }

    @Test("a duplicate SYN is a protocol error")
    func duplicateSyn() throws {
        var pair = try SessionPair()
        _ = pair.open(.client)
        pair.pump()
        pair.inject(bytes(.data(streamID: 1, flags: .syn, payloadBytes: 0)), into: .server)
        #expect(pair.server.events == [.opened(1), .failed(MuxError(.duplicateStream, streamID: 1))])
        #expect(pair.server.sentControl == [.goAway(.protocolError)])
        #expect(pair.server.session.streamCount == 0)
    }

    @Test("stream ID 0 on Data, and a non-zero ID on Ping, are protocol errors")
    func sessionStreamID() throws {
        var pair = try SessionPair()
        pair.inject(bytes(.data(streamID: 0, flags: .syn, payloadBytes: 0)), into: .server)
        #expect(pair.server.events == [.failed(MuxError(.invalidStreamID, streamID: 0))])
        var other = try SessionPair()
        other.inject(bytes(FrameHeader(type: .ping, flags: .syn, streamID: 1, length: 0)), into: .server)
        #expect(other.server.events == [.failed(MuxError(.invalidStreamID, streamID: 1))])
    }

    /// Stream 0 is the session's: Data and WindowUpdate on it, with or without flags, and Ping
    /// or GoAway on any other stream, fail the session with GoAway(protocol error) — on either
    /// side — and nothing the peer sends afterwards is acted on.
    @Test(
        "stream 0 misused by any frame type fails the session",
        arguments: [MuxRole.client, .server], streamZeroMisuses)
    func streamZeroMisuse(role: MuxRole, frame: ([UInt8], UInt32)) throws {
        var pair = try SessionPair()
        pair.inject(frame.0, into: role)
        #expect(pair[role].events == [.failed(MuxError(.invalidStreamID, streamID: frame.1))])
        #expect(pair[role].sentControl == [.goAway(.protocolError)])
        // A failed session answers nothing: no ping reply, no stream.
        let opener: UInt32 = role == .server ? 1 : 2
        pair.inject(bytes(.ping(opaque: 5, reply: false)), into: role)
        pair.inject(bytes(.windowUpdate(streamID: opener, flags: .syn, deltaBytes: 0)), into: role)
        #expect(pair[role].events.count == 1)
        #expect(pair[role].sentControl == [.goAway(.protocolError)])
    }

    /// Flag bits yamux does not define are ignored (a future peer may set them): the known bits
    /// of the same frame act exactly as without them — SYN opens, ACK acknowledges, Data
    /// delivers, a ping is answered, FIN half-closes, RST resets.
    @Test("unknown flag bits are ignored, the known ones still act")
    func unknownFlagBits() throws {
        let unknown = FrameFlags(rawValue: 0xFFF0)
        var pair = try SessionPair()
        // The peer opens stream 1 with a SYN carrying unknown bits, then sends data.
        pair.inject(bytes(.windowUpdate(streamID: 1, flags: [.syn, unknown], deltaBytes: 0)), into: .server)
        pair.inject(bytes(.data(streamID: 1, flags: unknown, payloadBytes: 3)) + [7, 8, 9], into: .server)
        #expect(pair.server.events == [.opened(1)])
        #expect(pair.server.received[1] == [7, 8, 9])
        pair.inject(bytes(FrameHeader(type: .ping, flags: [.syn, unknown], streamID: 0, length: 42)), into: .server)
        #expect(pair.server.sent(.ping) == [.ping(opaque: 42, reply: true)])
        pair.inject(bytes(.windowUpdate(streamID: 1, flags: [.fin, unknown], deltaBytes: 0)), into: .server)
        #expect(pair.server.events == [.opened(1), .finished(1)])
        pair.inject(bytes(.data(streamID: 3, flags: [.syn, unknown], payloadBytes: 0)), into: .server)
        pair.inject(bytes(.data(streamID: 3, flags: [.rst, unknown], payloadBytes: 0)), into: .server)
        #expect(pair.server.events == [.opened(1), .finished(1), .opened(3), .reset(3)])
        #expect(!pair.server.sentControl.contains(.goAway(.protocolError)))

        // Our stream, acknowledged by the peer with unknown bits.
        let opened = try pair.mustOpen(.client)
        pair.inject(bytes(.windowUpdate(streamID: opened, flags: [.ack, unknown], deltaBytes: 0)), into: .client)
        #expect(pair.client.events == [.acknowledged(opened)])
        #expect(pair.client.session.unacknowledgedCount == 0)
    }

    @Test("frames for unknown streams: Data dropped, WindowUpdate ignored")
    func unknownStreams() throws {
        var pair = try SessionPair()
        pair.inject(bytes(.data(streamID: 9, payloadBytes: 2)) + [1, 2], into: .server)
        pair.inject(bytes(.windowUpdate(streamID: 9, deltaBytes: 5)), into: .server)
        pair.inject(bytes(.windowUpdate(streamID: 9, flags: .ack, deltaBytes: 5)), into: .server)
        #expect(pair.server.events.isEmpty)
        #expect(pair.server.sentControl.isEmpty)
        #expect(pair.server.received.isEmpty)
    }

    @Test("Data beyond the receive window: GoAway(protocol error), session fails")
    func windowOverflow() throws {
        var pair = try SessionPair()
        pair.server.autoConsume = false  // a reader that consumes nothing never returns credit
        _ = pair.open(.client)
        pair.pump()
        pair.inject(bytes(.data(streamID: 1, payloadBytes: 262_144)) + payload(262_144), into: .server)
        #expect(pair.server.received[1]?.count == 262_144)
        pair.inject(bytes(.data(streamID: 1, payloadBytes: 1)) + [0], into: .server)
        #expect(pair.server.events.last == .failed(MuxError(.receiveWindowExceeded, streamID: 1, value: 1)))
        #expect(pair.server.sentControl.last == .goAway(.protocolError))
        pair.pump()
        #expect(pair.client.events.last == .failed(MuxError(.remoteGoAway, value: 1)))
        #expect(
            pair.client.session.reserveSend(streamID: 1, wantedBytes: 1)
                == .failed(MuxError(.remoteGoAway, value: 1)))
    }

    @Test("a Data length above the largest window ever granted is refused from the header alone")
    func absurdLength() throws {
        var tuned = MuxConfiguration.testDefault
        tuned.windowAutoTuning = true
        var pair = try SessionPair(server: tuned)
        _ = pair.open(.client)
        pair.pump()
        pair.inject(bytes(.data(streamID: 1, payloadBytes: 16 * 1024 * 1024 + 1)), into: .server)
        #expect(pair.server.events.last == .failed(MuxError(.frameTooLarge, streamID: 1, value: 16_777_217)))
        #expect(pair.server.sentControl.last == .goAway(.protocolError))

        // Without auto-tuning the limit is the fixed stream window.
        var fixed = try SessionPair()
        _ = fixed.open(.client)
        fixed.pump()
        fixed.inject(bytes(.data(streamID: 1, payloadBytes: 262_145)), into: .server)
        #expect(fixed.server.events.last == .failed(MuxError(.frameTooLarge, streamID: 1, value: 262_145)))
    }

    @Test("a bad version ends the session with GoAway(protocol error)")
    func badVersion() throws {
        var pair = try SessionPair()
        pair.inject([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], into: .server)
        #expect(pair.server.events == [.failed(MuxError(.unsupportedVersion, value: 1))])
        #expect(pair.server.sentControl == [.goAway(.protocolError)])
    }

    @Test("a WindowUpdate overflowing the send window is a protocol error")
    func creditOverflow() throws {
        var pair = try SessionPair()
        _ = pair.open(.client)
        pair.pump()
        pair.inject(bytes(.windowUpdate(streamID: 1, flags: .ack, deltaBytes: UInt32.max)), into: .client)
        #expect(pair.client.events.last == .failed(MuxError(.sendWindowOverflow, streamID: 1, value: 4_294_967_295)))
        #expect(pair.client.sentControl.last == .goAway(.protocolError))
    }

    @Test("stream IDs run out at 2³²−2")
    func exhaustion() throws {
        var pair = try SessionPair()
        pair.client.session.nextStreamID = UInt64(UInt32.max) - 2
        #expect(pair.open(.client) == UInt32.max - 2)
        #expect(pair.client.session.openStream(nowNanoseconds: 0) == .refused(MuxError(.streamsExhausted)))
    }

    @Test("a flood of small Data frames pauses parsing instead of growing the action queue")
    func smallDataFlood() throws {
        var configuration = MuxConfiguration.testDefault
        configuration.maxPendingActions = 16
        var session = try SessionState<ArrayChunk>(role: .server, configuration: configuration, nowNanoseconds: 0)
        var flood: [UInt8] = []
        for index in 0..<100 {
            FrameHeader.data(streamID: 1, flags: index == 0 ? .syn : [], payloadBytes: 1).encode(into: &flood)
            flood.append(UInt8(index))
        }
        var progress = session.receive(ArrayChunk(flood), nowNanoseconds: 0)
        var delivered: [UInt8] = []
        var pauses = 0
        // 100 frames, at most 16 actions at a time: far fewer rounds than this bound.
        for _ in 0..<200 {
            #expect(session.pendingActionCount <= 16)
            while let action = session.nextAction() {
                if case .deliver(_, let payload) = action { delivered += payload.flatMap { $0.bytes } }
            }
            guard progress == .paused else { break }
            pauses += 1
            progress = session.resumeReceiving(nowNanoseconds: 0)
        }
        #expect(progress != .paused, "still paused after 200 rounds")
        #expect(pauses >= 6)
        #expect(delivered == (0..<100).map { UInt8($0) })
    }

    @Test("an invalid configuration is refused")
    func invalidConfiguration() {
        var configuration = MuxConfiguration()
        configuration.streamWindowBytes = 1000
        #expect(throws: MuxError(.invalidConfiguration, value: 1000)) {
            _ = try SessionState<ArrayChunk>(role: .client, configuration: configuration, nowNanoseconds: 0)
        }
    }
}

/// Frames that misuse stream 0, each with the stream ID the session's error names.
private let streamZeroMisuses: [([UInt8], UInt32)] = [
    (bytes(.data(streamID: 0, payloadBytes: 2)) + [1, 2], 0),
    (bytes(.data(streamID: 0, flags: .fin, payloadBytes: 0)), 0),
    (bytes(.windowUpdate(streamID: 0, deltaBytes: 4096)), 0),
    (bytes(.windowUpdate(streamID: 0, flags: .syn, deltaBytes: 0)), 0),
    (bytes(.windowUpdate(streamID: 0, flags: .rst, deltaBytes: 0)), 0),
    (bytes(FrameHeader(type: .ping, flags: .syn, streamID: 3, length: 9)), 3),
    (bytes(FrameHeader(type: .ping, flags: .ack, streamID: 2, length: 9)), 2),
    (bytes(FrameHeader(type: .goAway, streamID: 1, length: 0)), 1),
]
