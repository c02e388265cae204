import Testing

@testable import TetherYamux

/// Shared, immutable storage so tests can check that payload slices reuse the received buffer.
final class ChunkStorage: Sendable {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
}

/// An Array-backed ``FrameByteChunk``: a window onto shared storage, as the reactor's buffer slices are.
struct ArrayChunk: FrameByteChunk {
    let storage: ChunkStorage
    let range: Range<Int>

    init(_ bytes: [UInt8]) {
        storage = ChunkStorage(bytes)
        range = 0..<bytes.count
    }

    init(storage: ChunkStorage, range: Range<Int>) {
        self.storage = storage
        self.range = range
    }

    var count: Int { range.count }

    func slice(_ subrange: Range<Int>) -> ArrayChunk {
        precondition(subrange.lowerBound >= 0 && subrange.upperBound <= count, "slice out of range")
        let lower = range.lowerBound + subrange.lowerBound
        return ArrayChunk(storage: storage, range: lower..<(lower + subrange.count))
    }

    func byte(at index: Int) -> UInt8 {
        precondition(index >= 0 && index < count, "index out of range")
        return storage.bytes[range.lowerBound + index]
    }

    var bytes: [UInt8] { Array(storage.bytes[range]) }
}

/// A deterministic payload: byte `i` is `(i * 7 + seed) & 0xff`.
func payload(_ count: Int, seed: Int = 0) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ seed) }
}

/// What a session reported, without the frames it sent (those are in `sentControl`).
enum Event: Hashable {
    case opened(UInt32)
    case acknowledged(UInt32)
    case finished(UInt32)
    case closed(UInt32)
    case reset(UInt32)
    case dropped(UInt32, MuxError)
    case writable(UInt32)
    case openSlotAvailable
    case remoteGoAway
    case pingAnswered(UInt32)
    case pingTimedOut(UInt32)
    case failed(MuxError)
}

/// One side of a ``SessionPair``.
struct Peer {
    var session: SessionState<ArrayChunk>
    var events: [Event] = []
    var sentControl: [FrameHeader] = []
    /// Headers of the Data frames written.
    var sentData: [FrameHeader] = []
    /// Payload delivered per stream, concatenated.
    var received: [UInt32: [UInt8]] = [:]
    /// Bytes in flight to the other side.
    var outgoing: [UInt8] = []
    /// Whether delivered bytes are reported consumed at once (a fast reader).
    var autoConsume = true
    /// The other side does not read: one batch is taken and never finishes writing.
    var wireBlocked = false
    /// The session stopped reading until its output drains.
    var inputBlocked = false

    func sent(_ type: FrameType) -> [FrameHeader] { sentControl.filter { $0.type == type } }
}

/// A client and a server session wired back to back by an in-memory pump. The pump keeps its own
/// model of every stream's send credit (256 KiB plus observed WindowUpdates minus observed Data)
/// and records an issue if any Data frame exceeds it or `maxFrameBytes`.
struct SessionPair {
    var client: Peer
    var server: Peer
    var nowNanoseconds: UInt64 = 1_000
    /// Received bytes are fed to a session in pieces of this size, to exercise split frames.
    var wireChunkBytes = Int.max
    private var creditModel: [MuxRole: [UInt32: Int]] = [.client: [:], .server: [:]]

    init(
        client clientConfiguration: MuxConfiguration = .testDefault,
        server serverConfiguration: MuxConfiguration = .testDefault
    ) throws {
        client = Peer(
            session: try SessionState(role: .client, configuration: clientConfiguration, nowNanoseconds: 1_000))
        server = Peer(
            session: try SessionState(role: .server, configuration: serverConfiguration, nowNanoseconds: 1_000))
    }

    subscript(role: MuxRole) -> Peer {
        get { role == .client ? client : server }
        // In-place access: a get/set pair would copy the peer (and its byte arrays) on every mutation.
        _modify {
            if role == .client { yield &client } else { yield &server }
        }
    }

    /// Opens a stream on `role`, expecting success.
    mutating func open(_ role: MuxRole) -> UInt32? {
        guard case .opened(let id) = self[role].session.openStream(nowNanoseconds: nowNanoseconds) else { return nil }
        return id
    }

    /// Opens a stream on `role`, throwing if the session does not open one.
    mutating func mustOpen(_ role: MuxRole) throws -> UInt32 {
        let result = self[role].session.openStream(nowNanoseconds: nowNanoseconds)
        guard case .opened(let id) = result else { throw UnexpectedResult(description: "\(result)") }
        return id
    }

    /// Queues `bytes` on a stream through the session's `send` until done or told to wait;
    /// returns the bytes queued. They reach the wire, in the session's order, at the next `drain`.
    @discardableResult
    mutating func write(_ role: MuxRole, stream: UInt32, _ bytes: [UInt8], finishing: Bool = false) -> Int {
        guard !bytes.isEmpty else { return 0 }
        let chunks = [ArrayChunk(bytes)]
        var cursor = PayloadCursor(chunks)
        _ = self[role].session.send(streamID: stream, payload: chunks, cursor: &cursor, finishing: finishing)
        drain(role)
        return bytes.count - cursor.remainingBytes
    }

    /// Takes every pending action of `role`, recording events, then writes what its session
    /// queued — in the order of its outbound buffer, the order production writes — unless its
    /// wire is blocked (a peer that does not read).
    mutating func drain(_ role: MuxRole) {
        takeActions(role)
        guard !self[role].wireBlocked else {
            // The connection takes one batch and never finishes writing it.
            if !self[role].session.outbound.isWriting { takeOutbound(role) }
            return
        }
        if self[role].session.outbound.isWriting {
            // Unblocked: the batch in flight is written at last.
            self[role].session.outboundWritten(nowNanoseconds: nowNanoseconds)
            takeActions(role)
        }
        while self[role].session.hasOutbound {
            takeOutbound(role)
            self[role].session.outboundWritten(nowNanoseconds: nowNanoseconds)
            takeActions(role)
        }
    }

    /// Encodes everything `role` queued into its outgoing bytes, checking every Data frame
    /// against the credit model and `maxFrameBytes`.
    private mutating func takeOutbound(_ role: MuxRole) {
        var items: [OutboundFrameBuffer<ArrayChunk>.Item] = []
        self[role].session.takeOutbound(nowNanoseconds: nowNanoseconds) { items.append($0) }
        let sender: MuxRole = role == .client ? .server : .client
        for item in items {
            switch item {
            case .header(let header):
                header.encode(into: &self[role].outgoing)
                if header.type == .data {
                    self[role].sentData.append(header)
                    let length = Int(header.length)
                    let maxFrame = self[role].session.configuration.maxFrameBytes
                    #expect(length <= maxFrame, "frame of \(length) bytes exceeds maxFrameBytes \(maxFrame)")
                    let credit = creditModel[role, default: [:]][
                        header.streamID, default: Int(ReceiveWindow.initialWindowBytes)]
                    #expect(length <= credit, "frame of \(length) bytes exceeds the granted window \(credit)")
                    creditModel[role, default: [:]][header.streamID] = credit - length
                } else {
                    self[role].sentControl.append(header)
                    if header.type == .windowUpdate {
                        // Credit granted by `role` is credit for the other side's sends.
                        let credit = creditModel[sender, default: [:]][
                            header.streamID, default: Int(ReceiveWindow.initialWindowBytes)]
                        creditModel[sender, default: [:]][header.streamID] = credit + Int(header.length)
                    }
                }
            case .payload(let chunk):
                self[role].outgoing += chunk.bytes
            }
        }
    }

    private mutating func takeActions(_ role: MuxRole) {
        while let action = self[role].session.nextAction() {
            switch action {
            case .deliver(let stream, let parts):
                let bytes = parts.flatMap(\.bytes)
                self[role].received[stream, default: []] += bytes
                if self[role].autoConsume {
                    self[role].session.consumed(
                        streamID: stream, byteCount: bytes.count, nowNanoseconds: nowNanoseconds)
                }
            case .streamOpened(let id): self[role].events.append(.opened(id))
            case .streamAcknowledged(let id): self[role].events.append(.acknowledged(id))
            case .streamFinished(let id): self[role].events.append(.finished(id))
            case .streamClosed(let id): self[role].events.append(.closed(id))
            case .streamReset(let id): self[role].events.append(.reset(id))
            case .streamDropped(let id, let reason): self[role].events.append(.dropped(id, reason))
            case .streamWritable(let id): self[role].events.append(.writable(id))
            case .openSlotAvailable: self[role].events.append(.openSlotAvailable)
            case .remoteGoAway: self[role].events.append(.remoteGoAway)
            case .pingAnswered(let opaque, _): self[role].events.append(.pingAnswered(opaque))
            case .pingTimedOut(let opaque): self[role].events.append(.pingTimedOut(opaque))
            case .sessionFailed(let error): self[role].events.append(.failed(error))
            }
        }
    }

    /// Moves bytes both ways until both sessions are quiet.
    mutating func pump() {
        for _ in 0..<10_000 {
            drain(.client)
            drain(.server)
            if !canDeliver(to: .server) && !canDeliver(to: .client) { return }
            deliver(to: .server)
            deliver(to: .client)
        }
        Issue.record("pump did not settle")
    }

    /// Whether bytes can move to `role`: some wait on a wire that is not blocked and `role` reads,
    /// or `role` stopped reading and its output has drained.
    private func canDeliver(to role: MuxRole) -> Bool {
        let sender: MuxRole = role == .client ? .server : .client
        let outputDrained = !self[role].session.outbound.isWriting
        if self[role].inputBlocked { return outputDrained }
        return !self[sender].outgoing.isEmpty && !self[sender].wireBlocked
    }

    private mutating func deliver(to role: MuxRole) {
        let sender: MuxRole = role == .client ? .server : .client
        guard !self[sender].wireBlocked else { return }
        if self[role].inputBlocked {
            // Stopped reading: the bytes wait on the wire until the output drains.
            drain(role)
            guard !self[role].session.outbound.isWriting else { return }
            guard resume(role) else { return }
        }
        let bytes = self[sender].outgoing
        self[sender].outgoing = []
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + min(wireChunkBytes, bytes.count - offset))
            let progress = self[role].session.receive(
                ArrayChunk(Array(bytes[offset..<end])), nowNanoseconds: nowNanoseconds)
            offset = end
            if !settle(role, progress) {
                // The rest stays on the wire, in order, until the session reads again.
                self[sender].outgoing = Array(bytes[offset...]) + self[sender].outgoing
                return
            }
        }
    }

    /// Drains `role` while its session pauses for actions; false when it stopped reading for its
    /// output (``ReceiveProgress/outputBlocked``).
    private mutating func settle(_ role: MuxRole, _ progress: ReceiveProgress) -> Bool {
        var progress = progress
        while progress == .paused {
            drain(role)
            progress = self[role].session.resumeReceiving(nowNanoseconds: nowNanoseconds)
        }
        drain(role)
        self[role].inputBlocked = progress == .outputBlocked
        return !self[role].inputBlocked
    }

    /// Parses the input `role` held back; true when it reads again.
    private mutating func resume(_ role: MuxRole) -> Bool {
        settle(role, self[role].session.resumeReceiving(nowNanoseconds: nowNanoseconds))
    }

    /// Feeds raw bytes to `role` as if the other side had sent them.
    mutating func inject(_ bytes: [UInt8], into role: MuxRole) {
        let sender: MuxRole = role == .client ? .server : .client
        self[sender].outgoing += bytes
        deliver(to: role)
    }
}

extension SessionPair {
    /// Delivers at most `maxBytes` of the bytes in flight to `role`, in order; the rest stays in
    /// flight behind them, as on a connection that has carried only part of what was written.
    mutating func deliver(to role: MuxRole, atMost maxBytes: Int) {
        let sender: MuxRole = role == .client ? .server : .client
        let held = Array(self[sender].outgoing.dropFirst(maxBytes))
        self[sender].outgoing.removeLast(held.count)
        // `deliver(to:)` drains only `role`: what it leaves in flight is still ahead of `held`.
        deliver(to: role)
        self[sender].outgoing += held
    }
}

extension MuxConfiguration {
    /// Defaults without timers that tests do not drive.
    static var testDefault: MuxConfiguration {
        var configuration = MuxConfiguration()
        configuration.windowAutoTuning = false
        return configuration
    }
}

struct UnexpectedResult: Error, CustomStringConvertible {
    var description: String
}

/// The bytes of a header-only frame.
func bytes(_ header: FrameHeader) -> [UInt8] { header.encoded() }
