@testable import TetherYamux

/// The bytes every stream carries, a fixed pseudo-random sequence: byte `i` of the stream `id`
/// sent by `sender` is the table's byte at `i` plus an offset of the stream and direction (mod
/// the table's size), so no two streams or directions carry the same bytes at the same offset
/// and a lost, duplicated or reordered run of bytes does not match.
enum StreamPattern {
    static let table: [UInt8] = {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        return (0..<(1 << 20)).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state >> 32)
        }
    }()

    static func start(stream: UInt32, sender: MuxRole) -> Int {
        (Int(stream) &* 7_919 &+ (sender == .client ? 0 : 524_309)) % table.count
    }

    /// The pattern's bytes at `range` of the stream's byte sequence.
    static func bytes(stream: UInt32, sender: MuxRole, _ range: Range<Int>) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(range.count)
        var position = (start(stream: stream, sender: sender) + range.lowerBound) % table.count
        var remaining = range.count
        while remaining > 0 {
            let take = min(remaining, table.count - position)
            bytes += table[position..<(position + take)]
            remaining -= take
            position = 0
        }
        return bytes
    }
}

/// Plays a ``ProtocolScenario`` on a ``SessionPair`` and checks it against a model of what the
/// application on each side asked for. The first violation ends the run:
///
/// - after every step: no session fails and none sends GoAway with an error code (two correct
///   peers never commit a protocol error); every stream delivers, in order, a prefix of the bytes
///   its writer queued; no writer has more bytes out than the receiver's window (bytes sent and
///   not yet read never exceed `streamWindowBytes`); FIN arrives only after the writer closed,
///   and only behind all of its bytes; each ping reply answers a ping;
/// - at quiescence (the connection drained, every stream accepted, every byte read): every
///   stream that was not reset delivered every byte written to it and every waiting writer
///   finished; every ping was answered; both sides agree on each stream's state — both forgot a
///   reset or fully closed stream, and for a live one, which halves are closed and how much
///   credit the writer has (it equals what the reader granted).
struct ProtocolRun {
    /// The application's view of one direction of a stream: what `sender` wrote, what the other
    /// side read.
    struct Direction {
        /// Bytes the sending session took (queued for the wire).
        var queued = 0
        /// Bytes written by the application that the session did not take yet.
        var backlog = 0
        /// The application closed the write half (FIN after the backlog).
        var finRequested = false
        /// FIN is queued with the session.
        var finQueued = false
        /// Bytes the receiver read (reported consumed).
        var consumed = 0
        /// Bytes the receiver got that were checked against the pattern.
        var checked = 0
    }

    struct Key: Hashable {
        var stream: UInt32
        var sender: MuxRole
    }

    struct Record {
        var opener: MuxRole
        /// Either side reset the stream, or saw it reset or dropped.
        var reset = false
    }

    /// Counts of what a run exercised, to check that the generated scenarios reach the states the
    /// properties are about.
    struct Coverage {
        var streamsOpened = 0
        var streamsCompleted = 0
        var streamsFinished = 0
        var streamsReset = 0
        var windowWaits = 0
        var outboundWaits = 0
        var openWaits = 0
        var pingsAnswered = 0
        var goAways = 0
        var bytesDelivered = 0
    }

    let scenario: ProtocolScenario
    var pair: SessionPair
    var records: [UInt32: Record] = [:]
    var directions: [Key: Direction] = [:]
    /// Streams each side opened or accepted, in order: the `sN` of the operations.
    var handles: [MuxRole: [UInt32]] = [.client: [], .server: []]
    /// Streams a side reset, or saw reset or dropped: its application no longer uses them.
    var ended: Set<Key> = []
    var eventIndex: [MuxRole: Int] = [.client: 0, .server: 0]
    var controlIndex: [MuxRole: Int] = [.client: 0, .server: 0]
    var outstandingPings: [MuxRole: Set<UInt32>] = [.client: [], .server: []]
    var pendingOpens: [MuxRole: Int] = [.client: 0, .server: 0]
    var goAwayCalled: [MuxRole: Bool] = [.client: false, .server: false]
    var coverage = Coverage()
    var step: Int?
    var violation: String?

    var now: UInt64 { pair.nowNanoseconds }
    var windowBytes: Int { Int(scenario.limits.configuration.streamWindowBytes) }

    init(_ scenario: ProtocolScenario) throws {
        self.scenario = scenario
        let configuration = scenario.limits.configuration
        pair = try SessionPair(client: configuration, server: configuration)
        pair.client.autoConsume = false
        pair.server.autoConsume = false
    }

    /// Runs `scenario`; returns the first violation, described with the step it happened at.
    static func check(_ scenario: ProtocolScenario) -> String? {
        do {
            var run = try ProtocolRun(scenario)
            return run.run()
        } catch {
            return "the sessions could not be created: \(error)"
        }
    }

    /// Runs every operation, then drives both sides to quiescence and checks the end state.
    mutating func run() -> String? {
        for (index, op) in scenario.ops.enumerated() {
            step = index
            apply(op)
            settle()
            checkInvariants()
            if violation != nil { return violation }
        }
        step = nil
        quiesce()
        checkInvariants()
        if violation == nil { checkQuiescence() }
        return violation
    }

    // MARK: Recording violations

    mutating func violate(_ message: String) {
        guard violation == nil else { return }
        if let step {
            violation = "after op \(step) (\(scenario.ops[step])): \(message)"
        } else {
            violation = "at quiescence: \(message)"
        }
    }

    static func other(_ role: MuxRole) -> MuxRole { role == .client ? .server : .client }

    func handle(_ role: MuxRole, _ index: Int) -> UInt32? {
        guard let list = handles[role], !list.isEmpty else { return nil }
        return list[index % list.count]
    }

    // MARK: Operations

    mutating func apply(_ op: ProtocolOp) {
        switch op {
        case .open(let side):
            if pendingOpens[side, default: 0] > 0 {
                pendingOpens[side, default: 0] += 1
            } else {
                pendingOpens[side, default: 0] = 1
                openPending(side)
            }
        case .accept(let side):
            if let id = pair[side].session.acceptStream(nowNanoseconds: now) {
                accepted(id, by: side)
            }
        case .write(let side, let index, let bytes, let fin):
            guard let id = handle(side, index) else { return }
            let key = Key(stream: id, sender: side)
            guard !ended.contains(key), directions[key, default: Direction()].finRequested == false else { return }
            let idle = directions[key, default: Direction()].backlog == 0
            directions[key, default: Direction()].backlog += bytes
            directions[key, default: Direction()].finRequested = fin
            // A writer still waiting for an earlier write goes on when the stream is writable.
            if idle { flush(side, id) }
        case .read(let side, let index, let bytes):
            guard let id = handle(side, index) else { return }
            read(side, id, upTo: bytes)
        case .close(let side, let index):
            guard let id = handle(side, index) else { return }
            let key = Key(stream: id, sender: side)
            guard !ended.contains(key), directions[key, default: Direction()].finRequested == false else { return }
            directions[key, default: Direction()].finRequested = true
            if directions[key, default: Direction()].backlog == 0 { flush(side, id) }
        case .reset(let side, let index):
            guard let id = handle(side, index) else { return }
            let key = Key(stream: id, sender: side)
            guard !ended.contains(key) else { return }
            pair[side].session.resetStream(streamID: id)
            pair.drain(side)
            markEnded(key)
        case .ping(let side):
            guard outstandingPings[side, default: []].count < 32 else { return }
            do {
                let opaque = try pair[side].session.ping(nowNanoseconds: now)
                outstandingPings[side, default: []].insert(opaque)
            } catch {
                violate("\(side) could not ping: \(error)")
            }
            pair.drain(side)
        case .goAway(let side):
            goAwayCalled[side] = true
            pair[side].session.goAway(.normal)
            pair.drain(side)
        case .deliver(let side, let bytes):
            pair.deliver(to: side, atMost: bytes)
        }
    }

    mutating func accepted(_ id: UInt32, by side: MuxRole) {
        guard let record = records[id], record.opener != side else {
            violate("\(side) accepted s\(id), which the other side never opened")
            return
        }
        handles[side, default: []].append(id)
    }

    /// Opens the streams `side`'s application asked for while ACK slots are free.
    mutating func openPending(_ side: MuxRole) {
        while pendingOpens[side, default: 0] > 0 {
            switch pair[side].session.openStream(nowNanoseconds: now) {
            case .opened(let id):
                pendingOpens[side, default: 0] -= 1
                guard records[id] == nil, side.opens(id) else {
                    violate("\(side) opened stream \(id) twice, or of the wrong parity")
                    return
                }
                records[id] = Record(opener: side)
                handles[side, default: []].append(id)
                coverage.streamsOpened += 1
            case .mustWait:
                coverage.openWaits += 1
                pair.drain(side)
                return
            case .refused(let error):
                pendingOpens[side] = 0
                // After the peer's GoAway no stream may be opened; nothing else refuses here.
                if error.code != .remoteGoAway || !goAwayCalled[Self.other(side), default: false] {
                    violate("\(side) could not open a stream: \(error)")
                }
            }
        }
        pair.drain(side)
    }

    /// Hands `side`'s waiting bytes of stream `id` to its session, and its FIN once they are all
    /// taken.
    mutating func flush(_ side: MuxRole, _ id: UInt32) {
        let key = Key(stream: id, sender: side)
        guard !ended.contains(key), var direction = directions[key] else { return }
        if direction.backlog > 0 {
            let bytes = StreamPattern.bytes(
                stream: id, sender: side, direction.queued..<(direction.queued + direction.backlog))
            let chunks = [ArrayChunk(bytes)]
            var cursor = PayloadCursor(chunks)
            let progress = pair[side].session.send(
                streamID: id, payload: chunks, cursor: &cursor, finishing: direction.finRequested)
            let taken = bytes.count - cursor.remainingBytes
            direction.queued += taken
            direction.backlog -= taken
            directions[key] = direction
            switch progress {
            case .done:
                if direction.finRequested { directions[key]?.finQueued = true }
            case .mustWait(.window):
                coverage.windowWaits += 1
            case .mustWait(.outbound):
                coverage.outboundWaits += 1
            case .failed(let error):
                // Legitimate only for a stream the peer reset or the session dropped: the reset
                // may be reported behind the writable event that led here.
                if pair[side].session.failure == nil, pair[side].session.streamFailure(id) != nil {
                    markEnded(key)
                } else {
                    violate("\(side) could not write to s\(id): \(error)")
                }
            }
        } else if direction.finRequested, !direction.finQueued {
            pair[side].session.closeWrite(streamID: id)
            directions[key]?.finQueued = true
        }
        pair.drain(side)
    }

    /// Reads up to `limit` of the bytes delivered to `side` on stream `id`.
    mutating func read(_ side: MuxRole, _ id: UInt32, upTo limit: Int) {
        let key = Key(stream: id, sender: Self.other(side))
        let delivered = pair[side].received[id]?.count ?? 0
        let unread = delivered - directions[key, default: Direction()].consumed
        let count = min(limit, unread)
        guard count > 0 else { return }
        directions[key, default: Direction()].consumed += count
        pair[side].session.consumed(streamID: id, byteCount: count, nowNanoseconds: now)
        pair.drain(side)
    }

    /// The application of `key.sender` stops using the stream: it reset it, or saw it reset.
    mutating func markEnded(_ key: Key) {
        ended.insert(key)
        directions[key, default: Direction()].backlog = 0
        if records[key.stream]?.reset == false { coverage.streamsReset += 1 }
        records[key.stream]?.reset = true
    }

    // MARK: Events

    /// Drains both sessions and reacts to their events (writable streams write on, free ACK
    /// slots open waiting streams) until neither has anything new.
    mutating func settle() {
        for _ in 0..<100_000 {
            pair.drain(.client)
            pair.drain(.server)
            var progressed = false
            for role in [MuxRole.client, .server] {
                while eventIndex[role, default: 0] < pair[role].events.count, violation == nil {
                    let event = pair[role].events[eventIndex[role, default: 0]]
                    eventIndex[role, default: 0] += 1
                    progressed = true
                    react(to: event, at: role)
                }
            }
            if !progressed || violation != nil { return }
        }
        violate("the sessions did not settle")
    }

    mutating func react(to event: Event, at role: MuxRole) {
        let peer = Self.other(role)
        switch event {
        case .opened(let id):
            guard let record = records[id], record.opener == peer else {
                violate("\(role) reports s\(id) opened, which \(peer) never opened")
                return
            }
        case .acknowledged, .closed:
            break
        case .finished(let id):
            let direction = directions[Key(stream: id, sender: peer), default: Direction()]
            let delivered = pair[role].received[id]?.count ?? 0
            if !direction.finQueued {
                violate("\(role) reports s\(id) finished, but \(peer) never closed it")
            } else if delivered != direction.queued {
                violate("\(role) got FIN on s\(id) after \(delivered) of the \(direction.queued) bytes written")
            }
            coverage.streamsFinished += 1
        case .reset(let id):
            markEnded(Key(stream: id, sender: role))
        case .dropped(let id, let reason):
            if reason.code != .receiveBudgetExceeded { violate("\(role) dropped s\(id): \(reason)") }
            markEnded(Key(stream: id, sender: role))
        case .writable(let id):
            flush(role, id)
        case .openSlotAvailable:
            openPending(role)
        case .remoteGoAway:
            if !goAwayCalled[peer, default: false] { violate("\(role) got GoAway that \(peer) never sent") }
            coverage.goAways += 1
        case .pingAnswered(let opaque):
            if outstandingPings[role, default: []].remove(opaque) == nil {
                violate("\(role) got a reply to ping \(opaque), which it never sent")
            }
            coverage.pingsAnswered += 1
        case .pingTimedOut(let opaque):
            violate("\(role)'s ping \(opaque) timed out")
        case .failed(let error):
            violate("\(role)'s session failed: \(error)")
        }
    }

    // MARK: Checks

    /// What holds after every step: no failure or error GoAway, every stream's bytes a correct
    /// prefix, no writer ahead of the reader's window.
    mutating func checkInvariants() {
        for role in [MuxRole.client, .server] {
            if let failure = pair[role].session.failure { violate("\(role)'s session failed: \(failure)") }
            let sent = pair[role].sentControl
            for header in sent[controlIndex[role, default: 0]...] where header.type == .goAway && header.length != 0 {
                violate("\(role) sent GoAway with error code \(header.length)")
            }
            controlIndex[role] = sent.count
        }
        for (key, direction) in directions {
            let receiver = Self.other(key.sender)
            let received = pair[receiver].received[key.stream] ?? []
            if received.count > direction.queued {
                violate(
                    "\(receiver) got \(received.count) bytes on s\(key.stream), \(key.sender) wrote \(direction.queued)"
                )
                return
            }
            if received.count > direction.checked {
                let expected = StreamPattern.bytes(
                    stream: key.stream, sender: key.sender, direction.checked..<received.count)
                if received[direction.checked...].elementsEqual(expected) == false {
                    let offset =
                        zip(received[direction.checked...], expected).enumerated()
                        .first { $0.element.0 != $0.element.1 }.map { direction.checked + $0.offset }
                        ?? direction.checked
                    violate("\(receiver) got a wrong byte at offset \(offset) of s\(key.stream)")
                    return
                }
                coverage.bytesDelivered += received.count - direction.checked
                directions[key]?.checked = received.count
            }
            let unread = direction.queued - direction.consumed
            if unread > windowBytes {
                violate(
                    "\(key.sender) has \(unread) bytes of s\(key.stream) sent and not read, over the \(windowBytes)-byte window"
                )
                return
            }
        }
    }

    /// Delivers everything, accepts every stream and reads every byte, until nothing moves.
    mutating func quiesce() {
        for _ in 0..<1_000 {
            pair.pump()
            settle()
            var changed = false
            for role in [MuxRole.client, .server] {
                while let id = pair[role].session.acceptStream(nowNanoseconds: now) {
                    accepted(id, by: role)
                    changed = true
                }
                for id in pair[role].received.keys.sorted() {
                    let key = Key(stream: id, sender: Self.other(role))
                    if (pair[role].received[id]?.count ?? 0) > directions[key, default: Direction()].consumed {
                        read(role, id, upTo: .max)
                        changed = true
                    }
                }
            }
            settle()
            if violation != nil { return }
            let inFlight = !pair.client.outgoing.isEmpty || !pair.server.outgoing.isEmpty
            if !changed && !inFlight && !pair.client.session.hasOutbound && !pair.server.session.hasOutbound {
                return
            }
        }
        violate("the sessions did not quiesce")
    }

    /// What holds once nothing moves: everything written arrived, and both sides agree on every
    /// stream.
    mutating func checkQuiescence() {
        for role in [MuxRole.client, .server] {
            if pendingOpens[role, default: 0] > 0 { violate("\(role) still waits to open a stream") }
            if let ping = outstandingPings[role, default: []].first {
                violate("\(role)'s ping \(ping) was not answered")
            }
            if pair[role].session.bufferedBytes != 0 {
                violate("\(role) holds \(pair[role].session.bufferedBytes) unread bytes after reading everything")
            }
        }
        var expectedStreamCount: [MuxRole: Int] = [.client: 0, .server: 0]
        for id in records.keys.sorted() {
            guard let record = records[id], violation == nil else { return }
            if record.reset {
                for role in [MuxRole.client, .server] where pair[role].session.stream(id) != nil {
                    violate("s\(id) was reset, but \(role) still tracks it")
                }
                continue
            }
            for sender in [MuxRole.client, .server] {
                let direction = directions[Key(stream: id, sender: sender), default: Direction()]
                let receiver = Self.other(sender)
                let delivered = pair[receiver].received[id]?.count ?? 0
                if direction.backlog > 0 {
                    violate("\(sender)'s writer of s\(id) still waits with \(direction.backlog) bytes")
                } else if delivered != direction.queued {
                    violate("\(receiver) got \(delivered) of the \(direction.queued) bytes \(sender) wrote on s\(id)")
                } else if direction.finRequested != direction.finQueued {
                    violate("\(sender) closed s\(id), but its FIN was never queued")
                }
                let status = pair[receiver].session.readStatus(of: id)
                let expected: StreamReadStatus = direction.finQueued ? .finished : .open
                if status != expected { violate("\(receiver) reads s\(id) as \(status), expected \(expected)") }
            }
            coverage.streamsCompleted += 1
            for role in [MuxRole.client, .server] {
                let localFin = direction(id, role).finQueued
                let remoteFin = direction(id, Self.other(role)).finQueued
                let state = pair[role].session.stream(id)
                guard let state else {
                    if !(localFin && remoteFin) { violate("\(role) forgot s\(id) while it is still open") }
                    continue
                }
                expectedStreamCount[role, default: 0] += 1
                let phase: String
                switch state.phase {
                case .open: phase = "open"
                case .halfClosedLocal: phase = "halfClosedLocal"
                case .halfClosedRemote: phase = "halfClosedRemote"
                }
                let expected =
                    switch (localFin, remoteFin) {
                    case (false, false): "open"
                    case (true, false): "halfClosedLocal"
                    case (false, true): "halfClosedRemote"
                    case (true, true): "closed"
                    }
                if phase != expected { violate("\(role) has s\(id) \(phase), expected \(expected)") }
                if state.awaitingAck || state.awaitingAccept {
                    violate("\(role) still waits for the handshake of s\(id)")
                }
                // The writer's credit is exactly what the reader granted and did not see used.
                if let credit = state.sendCreditBytes,
                    let window = pair[Self.other(role)].session.stream(id)?.receiveWindow,
                    credit != window.availableBytes
                {
                    violate(
                        "\(role) may send \(credit) bytes on s\(id), \(Self.other(role)) grants \(window.availableBytes)"
                    )
                }
            }
        }
        for role in [MuxRole.client, .server] where pair[role].session.streamCount != expectedStreamCount[role] {
            violate(
                "\(role) tracks \(pair[role].session.streamCount) streams, the model \(expectedStreamCount[role] ?? 0)")
        }
    }

    func direction(_ id: UInt32, _ sender: MuxRole) -> Direction {
        directions[Key(stream: id, sender: sender), default: Direction()]
    }
}
