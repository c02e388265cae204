@testable import TetherYamux

/// A yamux session driven by an arbitrary sequence of peer frames and application calls.
///
/// Input: a byte choosing the role and the configuration (tight limits reach every limit in a few
/// frames), then operations, one byte each plus their arguments. The peer's frames are delivered
/// whole but cut into up to three chunks; the owner carries out actions, takes and writes frames
/// (or leaves the wire blocked), reads delivered bytes and releases ended streams, as `MuxSession`
/// does. Invariants checked after every operation:
/// - credit: no Data frame exceeds the peer's grants or `maxFrameBytes`; Data within the credit
///   this side has sent is never refused; Data beyond the session's own window fails it;
/// - delivery: payload reaches its stream whole and in order, never after the stream was reset,
///   dropped, closed or finished, or after the session failed; what the application sends leaves
///   in order and never after its FIN or RST;
/// - limits: streams, accept backlog, unacknowledged streams, unread bytes, reply frames, queued
///   data, pending actions, pings, skipped IDs stay within the configuration;
/// - failure: the peer's input ends the session only with a protocol error, which queues
///   GoAway(protocol error), or by its own GoAway; timers and local calls only with their errors.
enum SessionFuzz {
    static func run(_ bytes: [UInt8]) {
        var input = FuzzInput(bytes)
        let setup = input.byte()
        guard var harness = Harness(setup: setup) else { return }
        var operations = 0
        while !input.isAtEnd && operations < 2_000 {
            harness.step(&input)
            harness.checkInvariants()
            operations += 1
        }
    }

    static func configuration(_ preset: UInt8) -> MuxConfiguration {
        var configuration = MuxConfiguration()
        configuration.windowAutoTuning = preset & 0x04 != 0
        configuration.keepAliveIntervalNanoseconds = preset & 0x08 != 0 ? 1_000_000 : nil
        guard preset & 0x10 != 0 else { return configuration }
        // Tight limits, so that a short input reaches each of them.
        configuration.acceptBacklog = 2
        configuration.maxUnacknowledgedStreams = 2
        configuration.maxConcurrentStreams = 4
        configuration.maxStreamWindowBytes = 1 << 20
        configuration.sessionReceiveBudgetBytes = 1 << 20
        configuration.maxFrameBytes = 1_000
        configuration.keepAliveTimeoutNanoseconds = 500_000
        configuration.maxOutstandingPings = 2
        configuration.maxPendingActions = 16
        configuration.maxOutboundReplyFrames = 8
        // Either stop reading before the reply limit, or never stop and fail at it.
        configuration.pauseInputAtReplyFrames = preset & 0x20 != 0 ? 4 : 8
        configuration.maxOutboundDataBytes = 4_096
        configuration.maxBufferedBytes = preset & 0x40 != 0 ? 300_000 : 1 << 20
        configuration.writeTimeoutNanoseconds = 5_000_000
        if preset & 0x80 != 0 { configuration.streamWindowBytes = 300_000 }
        return configuration
    }
}

/// One Data frame's payload delivered to a stream, as the peer sent it.
private struct Segment {
    var bytes: [UInt8]
}

/// What the harness knows of one stream.
private struct StreamModel {
    /// The peer's grants minus the Data taken for the wire (the credit this side may use).
    var sendCredit: UInt64 = UInt64(ReceiveWindow.initialWindowBytes)
    /// The credit this side announced on the wire minus the Data the peer sent.
    var visibleReceiveCredit: UInt64 = UInt64(ReceiveWindow.initialWindowBytes)
    /// Payload sent by the peer and not yet delivered, in order.
    var undelivered: [Segment] = []
    /// Delivered bytes the application has not read yet.
    var unread = 0
    /// Bytes the application queued and that have not been seen on the wire yet.
    var unsent: [UInt8] = []
    var sentBytes = 0
    /// No delivery may follow (reset, dropped, closed, finished, or reset by this side).
    var deliveryEnded = false
    /// This side's FIN or RST went on the wire: no Data may follow.
    var writeEndedOnWire = false
    /// A peer frame with FIN arrived.
    var peerFinished = false
}

private struct Harness {
    var session: SessionState<ArrayChunk>
    let configuration: MuxConfiguration
    let role: MuxRole
    var now: UInt64 = 1_000_000
    var streams: [UInt32: StreamModel] = [:]
    /// Streams the owner was told of and has not released.
    var told: Set<UInt32> = []
    /// Streams this side may write on: opened locally, or accepted.
    var writable: [UInt32] = []
    var awaitingAccept: Set<UInt32> = []
    /// Whole frames waiting on the wire while the session does not read.
    var wire: [[[UInt8]]] = []
    var inputBlocked = false
    /// The connection takes nothing: a batch in flight is never reported written.
    var wireBlocked = false
    /// Actions are drained only after operations that are not peer frames (until the session
    /// pauses for them), so the action queue's bound is exercised.
    let lazyOwner: Bool
    var failureSeen = false
    var highestPeerID: UInt32 = 0
    var pingsSent: [UInt32] = []
    var nextPayloadSeed: UInt8 = 1
    /// Payload bytes the run may still make up (peer Data and application writes), so that a
    /// long input stays fast: past it only small payloads are chosen.
    var payloadBudget = 16 << 20
    /// GoAway codes taken for the wire during the current operation.
    var goAwaysTaken: [UInt32] = []

    init?(setup: UInt8) {
        role = setup & 0x01 == 0 ? .client : .server
        lazyOwner = setup & 0x02 != 0
        configuration = SessionFuzz.configuration(setup)
        guard let session = try? SessionState<ArrayChunk>(role: role, configuration: configuration, nowNanoseconds: now)
        else { violation("a fuzz configuration is invalid") }
        self.session = session
    }

    var decoderLimit: UInt32 {
        configuration.windowAutoTuning ? configuration.maxStreamWindowBytes : configuration.streamWindowBytes
    }

    // MARK: Operations

    mutating func step(_ input: inout FuzzInput) {
        let operation = input.below(20)
        if operation >= 6 || !lazyOwner { drainActions() }
        let failedBefore = session.isFailed
        goAwaysTaken = []
        switch operation {
        case 0...5: peerFrame(&input)
        case 6: open()
        case 7: accept()
        case 8: send(&input)
        case 9: closeWrite(&input)
        case 10: reset(&input)
        case 11: read(&input)
        case 12: release(&input)
        case 13: tick(&input)
        case 14: connectionTakes()
        case 15: wireBlocked.toggle()
        case 16: ping()
        case 17: goAway(&input)
        case 18: invalidHeader(&input)
        default: connectionTakes()
        }
        if operation >= 6 || !lazyOwner { drainActions() }
        write()
        if !failedBefore, let failure = session.failure {
            checkFailure(failure, operation: operation)
        }
    }

    mutating func peerFrame(_ input: inout FuzzInput) {
        let type = FrameType(rawValue: UInt8(input.below(4)))!
        var flags = FrameFlags(rawValue: UInt16(input.byte() & 0x0f))
        if input.below(16) == 0 { flags.insert(FrameFlags(rawValue: 0x100)) }
        let streamID = pickPeerStreamID(&input, type: type)
        var frame: [UInt8]
        switch type {
        case .data:
            var length = input.pick([0, 1, 2, 100, 1_000, 4_096, 65_536, 262_143, 262_144, 262_145, 300_001, 524_288])
            if length > payloadBudget { length %= 1_001 }
            payloadBudget -= length
            let header = FrameHeader.data(streamID: streamID, flags: flags, payloadBytes: UInt32(length))
            frame = header.encoded()
            if length <= decoderLimit {
                frame += (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(nextPayloadSeed)) }
                nextPayloadSeed &+= 1
            }
        case .windowUpdate:
            let delta = input.pick([
                0, 1, 1_000, 65_536, 262_144, 1 << 20, UInt32.max - 262_144, UInt32.max, input.uint32(),
            ])
            frame = FrameHeader.windowUpdate(streamID: streamID, flags: flags, deltaBytes: delta).encoded()
        case .ping:
            let opaque = input.below(2) == 0 && !pingsSent.isEmpty ? input.pick(pingsSent) : input.uint32()
            frame = FrameHeader(type: .ping, flags: flags, streamID: streamID, length: opaque).encoded()
        case .goAway:
            let code = input.pick([0, 0, 1, 2, input.uint32()])
            frame = FrameHeader(type: .goAway, flags: flags, streamID: streamID, length: code).encoded()
        }
        let cuts = [Int(input.uint16()), Int(input.uint16())].prefix(input.below(3))
        wire.append(split(frame, at: Array(cuts)))
        feedWire()
    }

    mutating func pickPeerStreamID(_ input: inout FuzzInput, type: FrameType) -> UInt32 {
        let choice = input.byte()
        switch choice {
        case 0..<40 where type == .ping || type == .goAway: return 0
        case 0..<100: return UInt32(choice % 10)
        case 100..<160:
            let next = highestPeerID == 0 ? role.peerFirstStreamID : highestPeerID &+ 2
            return choice < 150 ? next : next &+ 2 * UInt32(choice - 149)
        case 160..<220: return writable.isEmpty ? UInt32(choice % 10) : input.pick(writable)
        case 220..<240: return input.pick([UInt32.max, UInt32.max - 1, UInt32.max - 2, 0x8000_0000])
        default: return input.uint32()
        }
    }

    /// A header the decoder must refuse: a version other than 0, or an unknown type.
    mutating func invalidHeader(_ input: inout FuzzInput) {
        var header = input.take(12)
        header += [UInt8](repeating: 0, count: 12 - header.count)
        if header[0] == 0 && header[1] <= 3 { header[1] = 4 &+ header[1] }
        wire.append([header])
        feedWire()
    }

    /// Feeds whole frames from the wire while the session reads.
    mutating func feedWire() {
        while !inputBlocked, !wire.isEmpty {
            let chunks = wire.removeFirst()
            let frame = chunks.flatMap { $0 }
            let before = expectations(for: frame)
            for chunk in chunks {
                settle(session.receive(ArrayChunk(chunk), nowNanoseconds: now))
            }
            applied(frame, expected: before)
        }
    }

    /// Handles the session's answer to input: drains actions while it pauses for them.
    mutating func settle(_ progress: ReceiveProgress) {
        var progress = progress
        while progress == .paused {
            check(session.pendingActionCount >= configuration.maxPendingActions, "paused with few actions pending")
            drainActions()
            progress = session.resumeReceiving(nowNanoseconds: now)
        }
        if progress == .outputBlocked {
            check(
                session.outbound.outstandingReplyFrames >= configuration.pauseInputAtReplyFrames,
                "stopped reading with \(session.outbound.outstandingReplyFrames) reply frames outstanding")
            inputBlocked = true
        }
    }

    /// What must happen when the peer's frame is applied, decided from the state before it.
    struct Expectation {
        var header: FrameHeader?
        var streamExisted = false
        var receiveAvailable: UInt32?
        var peerFinishedBefore = false
    }

    func expectations(for frame: [UInt8]) -> Expectation {
        guard let header = try? FrameHeader(decoding: frame) else { return Expectation() }
        let state = session.stream(header.streamID)
        return Expectation(
            header: header, streamExisted: state != nil, receiveAvailable: state?.receiveWindow?.availableBytes,
            peerFinishedBefore: streams[header.streamID]?.peerFinished ?? false)
    }

    mutating func applied(_ frame: [UInt8], expected: Expectation) {
        guard let header = expected.header, header.streamID != 0 || header.type == .ping || header.type == .goAway
        else { return }
        let id = header.streamID
        let failure = session.failure
        if header.type == .data, header.length > 0, !header.flags.contains(.rst), expected.streamExisted,
            let available = expected.receiveAvailable, header.length <= decoderLimit
        {
            let model = streams[id]?.visibleReceiveCredit ?? 0
            if header.length > available {
                // receiveWindowExceeded, or another protocol error the frame makes first (a SYN
                // for a stream that exists).
                check(
                    failure?.goAwayCode == .protocolError,
                    "\(header) beyond the \(available)-byte window did not fail the session: \(String(describing: failure))"
                )
            } else if UInt64(header.length) <= model {
                check(
                    failure?.code != .receiveWindowExceeded,
                    "\(header) within the \(model) bytes of credit sent was refused")
            }
        }
        guard failure == nil else { return }
        if header.type == .windowUpdate || header.type == .data {
            if header.flags.contains(.syn), session.stream(id) != nil || !expected.streamExisted {
                highestPeerID = max(highestPeerID, id)
            }
            guard expected.streamExisted || header.flags.contains(.syn) else { return }
            var model = streams[id] ?? StreamModel()
            if header.type == .windowUpdate, !header.flags.contains(.rst), session.stream(id) != nil {
                model.sendCredit += UInt64(header.length)
            }
            if header.type == .data, !header.flags.contains(.rst), header.length > 0 {
                check(!expected.peerFinishedBefore, "Data after FIN on stream \(id) was accepted")
                model.visibleReceiveCredit -= min(model.visibleReceiveCredit, UInt64(header.length))
                model.undelivered.append(Segment(bytes: Array(frame[12...])))
            }
            if header.flags.contains(.fin) { model.peerFinished = true }
            streams[id] = model
        }
    }

    mutating func open() {
        switch session.openStream(nowNanoseconds: now) {
        case .opened(let id):
            check(role.opens(id), "opened stream \(id) of the peer's parity")
            check(streams[id] == nil && !told.contains(id), "stream \(id) opened twice")
            streams[id] = StreamModel()
            told.insert(id)
            writable.append(id)
        case .mustWait:
            check(
                session.unacknowledgedCount >= configuration.maxUnacknowledgedStreams,
                "told to wait with \(session.unacknowledgedCount) streams unacknowledged")
        case .refused(let error):
            check(
                session.isFailed || session.remoteGoAwayReceived || error.code == .tooManyStreams
                    || error.code == .streamsExhausted,
                "open refused: \(error)")
        }
    }

    mutating func accept() {
        guard let id = session.acceptStream(nowNanoseconds: now) else { return }
        check(awaitingAccept.remove(id) != nil, "accepted stream \(id) that was never reported opened")
        writable.append(id)
    }

    mutating func send(_ input: inout FuzzInput) {
        guard !writable.isEmpty else { return }
        let id = input.pick(writable)
        var count = input.pick([1, 10, 999, 1_000, 1_001, 4_097, 70_000, 300_000])
        if count > payloadBudget { count = 1 + count % 1_000 }
        payloadBudget -= count
        let seed = input.byte()
        let payload = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ Int(seed)) }
        let chunks = split(payload, at: [Int(input.uint16())]).map(ArrayChunk.init)
        var cursor = PayloadCursor(chunks)
        let finishing = input.below(4) == 0
        let progress = session.send(streamID: id, payload: chunks, cursor: &cursor, finishing: finishing)
        let queued = count - cursor.remainingBytes
        streams[id, default: StreamModel()].unsent += payload[..<queued]
        switch progress {
        case .done: check(cursor.isDone, "send done with \(cursor.remainingBytes) bytes left")
        case .mustWait(.outbound):
            check(
                session.outbound.outstandingDataBytes >= configuration.maxOutboundDataBytes,
                "told to wait for room with \(session.outbound.outstandingDataBytes) bytes outstanding")
        case .mustWait(.window):
            check(session.stream(id)?.sendCreditBytes == 0, "told to wait for credit with credit left")
        case .failed: check(queued == 0 || session.isFailed, "a failed send queued \(queued) bytes")
        }
    }

    mutating func closeWrite(_ input: inout FuzzInput) {
        guard !writable.isEmpty else { return }
        session.closeWrite(streamID: input.pick(writable))
    }

    mutating func reset(_ input: inout FuzzInput) {
        guard !writable.isEmpty else { return }
        let id = input.pick(writable)
        session.resetStream(streamID: id)
        streams[id]?.deliveryEnded = true
    }

    /// The application reads (or drops) some delivered bytes of a stream.
    mutating func read(_ input: inout FuzzInput) {
        let candidates = streams.filter { $0.value.unread > 0 }.keys.sorted()
        guard !candidates.isEmpty else { return }
        let id = input.pick(candidates)
        let unread = streams[id]!.unread
        let count = input.below(2) == 0 ? unread : max(1, unread / (1 + input.below(8)))
        streams[id]!.unread -= count
        session.consumed(streamID: id, byteCount: count, nowNanoseconds: now)
    }

    /// The owner is done with a stream: an open one is reset, an ended one forgotten. Its unread
    /// bytes are dropped and reported consumed first, as `MuxSession` does.
    mutating func release(_ input: inout FuzzInput) {
        let candidates = told.sorted()
        guard !candidates.isEmpty else { return }
        let id = input.pick(candidates)
        if let unread = streams[id]?.unread, unread > 0 {
            session.consumed(streamID: id, byteCount: unread, nowNanoseconds: now)
            streams[id]?.unread = 0
        }
        session.releaseStream(id)
        told.remove(id)
        writable.removeAll { $0 == id }
        awaitingAccept.remove(id)
        streams[id]?.deliveryEnded = true
    }

    mutating func tick(_ input: inout FuzzInput) {
        now += input.pick([0, 1, 1_000, 400_000, 600_000, 1_000_000, 5_000_000, 30_000_000_000])
        session.tick(nowNanoseconds: now)
    }

    /// The connection finishes the batch in flight; a session that stopped reading goes on.
    mutating func connectionTakes() {
        guard !wireBlocked else { return }
        if session.outbound.isWriting {
            session.outboundWritten(nowNanoseconds: now)
            drainActions()
        }
        if inputBlocked {
            inputBlocked = false
            settle(session.resumeReceiving(nowNanoseconds: now))
            drainActions()
            feedWire()
        }
    }

    mutating func ping() {
        if let opaque = try? session.ping(nowNanoseconds: now) { pingsSent.append(opaque) }
    }

    mutating func goAway(_ input: inout FuzzInput) {
        session.goAway(input.pick([.normal, .normal, .protocolError, .internalError]))
    }

    // MARK: Owner

    mutating func drainActions() {
        while let action = session.nextAction() {
            switch action {
            case .deliver(let id, let payload):
                check(!failureSeen, "delivery on stream \(id) after the session failed")
                var model = streams[id] ?? StreamModel()
                check(!model.deliveryEnded, "delivery on stream \(id) after it ended")
                check(!model.undelivered.isEmpty, "delivery on stream \(id) of data the peer did not send")
                let bytes = payload.flatMap(\.bytes)
                check(
                    bytes == model.undelivered.first?.bytes,
                    "stream \(id) delivered \(bytes.count) bytes, not the next \(model.undelivered.first?.bytes.count ?? 0) the peer sent"
                )
                model.undelivered.removeFirst()
                model.unread += bytes.count
                streams[id] = model
            case .streamOpened(let id):
                check(!role.opens(id), "the peer opened stream \(id) of this side's parity")
                check(!told.contains(id) && streams[id]?.deliveryEnded != true, "stream \(id) reported opened twice")
                told.insert(id)
                awaitingAccept.insert(id)
            case .streamReset(let id), .streamDropped(let id, _), .streamClosed(let id):
                streams[id, default: StreamModel()].deliveryEnded = true
                streams[id]?.undelivered = []
                writable.removeAll { $0 == id }
                awaitingAccept.remove(id)
            case .streamFinished(let id):
                check(streams[id]?.deliveryEnded != true, "stream \(id) finished after it ended")
                // Everything the peer sent before its FIN was delivered before this.
                check(streams[id]?.undelivered.isEmpty ?? true, "stream \(id) finished with data undelivered")
                streams[id, default: StreamModel()].deliveryEnded = true
            case .sessionFailed:
                check(!failureSeen, "the session failed twice")
                failureSeen = true
            case .streamAcknowledged, .streamWritable, .openSlotAvailable, .remoteGoAway, .pingAnswered,
                .pingTimedOut:
                break
            }
        }
    }

    /// Takes the queued frames for the connection unless a batch is still in flight.
    mutating func write() {
        guard !session.outbound.isWriting, session.hasOutbound else { return }
        var items: [OutboundFrameBuffer<ArrayChunk>.Item] = []
        session.takeOutbound(nowNanoseconds: now) { items.append($0) }
        var dataStream: UInt32?
        var dataLeft = 0
        for item in items {
            switch item {
            case .header(let header):
                check(dataLeft == 0, "a header inside a Data payload")
                taken(header)
                if header.type == .data, header.length > 0 {
                    dataStream = header.streamID
                    dataLeft = Int(header.length)
                }
            case .payload(let chunk):
                guard let id = dataStream else { violation("payload without a Data header") }
                check(chunk.count > 0 && chunk.count <= dataLeft, "a \(chunk.count)-byte payload part")
                dataLeft -= chunk.count
                var model = streams[id] ?? StreamModel()
                check(
                    model.unsent.count >= chunk.count && Array(model.unsent.prefix(chunk.count)) == chunk.bytes,
                    "stream \(id) sent bytes the application did not write, or out of order")
                model.unsent.removeFirst(chunk.count)
                streams[id] = model
            }
        }
        check(dataLeft == 0, "a Data frame short of its payload")
        if !wireBlocked {
            session.outboundWritten(nowNanoseconds: now)
        }
    }

    /// Checks one frame this side sends against the credit the peer granted.
    mutating func taken(_ header: FrameHeader) {
        let id = header.streamID
        switch header.type {
        case .data:
            var model = streams[id] ?? StreamModel()
            check(!model.writeEndedOnWire, "Data on stream \(id) after its FIN or RST")
            check(header.length <= configuration.maxFrameBytes, "\(header) exceeds maxFrameBytes")
            check(
                UInt64(header.length) <= model.sendCredit,
                "\(header) exceeds the \(model.sendCredit) bytes the peer granted")
            model.sendCredit -= UInt64(header.length)
            if header.flags.contains(.fin) || header.flags.contains(.rst) { model.writeEndedOnWire = true }
            streams[id] = model
        case .windowUpdate:
            var model = streams[id] ?? StreamModel()
            if !header.flags.contains(.rst) { model.visibleReceiveCredit += UInt64(header.length) }
            if header.flags.contains(.fin) || header.flags.contains(.rst) { model.writeEndedOnWire = true }
            streams[id] = model
        case .goAway:
            goAwaysTaken.append(header.length)
        case .ping:
            break
        }
    }

    // MARK: Invariants

    func checkFailure(_ failure: MuxError, operation: Int) {
        switch operation {
        case 0...5, 18:
            if failure.goAwayCode == .protocolError {
                check(queuedGoAway(.protocolError), "\(failure) queued no GoAway(protocol error)")
            } else {
                check(failure.code == .remoteGoAway, "the peer's input failed the session with \(failure)")
            }
        case 14, 19:
            // Reading again after the output drained parses the frames that waited.
            check(
                failure.goAwayCode == .protocolError || failure.code == .remoteGoAway,
                "the peer's input failed the session with \(failure)")
            if failure.goAwayCode == .protocolError {
                check(queuedGoAway(.protocolError), "\(failure) queued no GoAway(protocol error)")
            }
        case 13:
            check(failure.code == .writeTimeout || failure.code == .keepAliveTimeout, "a tick failed with \(failure)")
        case 17:
            check(failure.code == .localGoAway, "GoAway failed the session with \(failure)")
        default:
            violation("operation \(operation) failed the session with \(failure)")
        }
    }

    /// Whether a GoAway with `code` is queued or was just taken for the wire.
    func queuedGoAway(_ code: GoAwayCode) -> Bool {
        let goAway = FrameHeader.goAway(code)
        return session.outbound.control.contains(goAway) || goAwaysTaken.contains(code.rawValue)
    }

    func checkInvariants() {
        let configuration = configuration
        check(session.streamCount <= configuration.maxConcurrentStreams, "\(session.streamCount) streams")
        check(session.acceptQueueCount <= configuration.acceptBacklog, "\(session.acceptQueueCount) streams to accept")
        check(
            session.unacknowledgedCount <= configuration.maxUnacknowledgedStreams,
            "\(session.unacknowledgedCount) streams unacknowledged")
        check(session.bufferedBytes <= configuration.maxBufferedBytes, "\(session.bufferedBytes) bytes unread")
        let replies = session.outbound.outstandingReplyFrames
        check(
            replies <= configuration.maxOutboundReplyFrames
                || (session.isFailed && replies == configuration.maxOutboundReplyFrames + 1),
            "\(replies) reply frames outstanding")
        check(
            session.outbound.outstandingDataBytes < configuration.maxOutboundDataBytes + configuration.maxFrameBytes,
            "\(session.outbound.outstandingDataBytes) data bytes outstanding")
        check(
            session.pendingActionCount <= configuration.maxPendingActions + 8,
            "\(session.pendingActionCount) actions pending")
        check(session.pings.count <= configuration.maxOutstandingPings, "\(session.pings.count) pings outstanding")
        check(
            session.skippedIncomingStreamIDs.count <= SessionState<ArrayChunk>.maxSkippedStreamIDs,
            "\(session.skippedIncomingStreamIDs.count) skipped IDs kept")
        check(
            session.receiveBudgetRemainingBytes <= configuration.sessionReceiveBudgetBytes,
            "receive budget grew to \(session.receiveBudgetRemainingBytes)")
        if session.pendingActionCount == 0 {
            for id in session.endedStreams.keys {
                check(told.contains(id), "ended stream \(id) is kept though its owner released it or never knew it")
            }
        }
        guard !session.isFailed else {
            check(session.streamCount == 0, "a failed session tracks \(session.streamCount) streams")
            return
        }
        for (id, model) in streams {
            guard let state = session.stream(id) else { continue }
            if let window = state.receiveWindow {
                check(
                    model.visibleReceiveCredit <= UInt64(window.availableBytes),
                    "stream \(id): the peer was granted \(model.visibleReceiveCredit) bytes, the window takes \(window.availableBytes)"
                )
            }
        }
    }
}
