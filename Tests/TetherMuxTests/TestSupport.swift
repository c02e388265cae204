import Testing

@testable import TetherMux

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

    /// Writes `bytes` through `reserveSend` until done or told to wait; returns the bytes written.
    @discardableResult
    mutating func write(_ role: MuxRole, stream: UInt32, _ bytes: [UInt8], finishing: Bool = false) -> Int {
        var offset = 0
        while offset < bytes.count {
            // Control frames (SYN, window updates) go on the wire before Data, as the binding must do.
            drain(role)
            let reservation = self[role].session.reserveSend(
                streamID: stream, wantedBytes: bytes.count - offset, finishing: finishing)
            guard case .send(let header) = reservation else { break }
            let length = Int(header.length)
            let maxFrame = self[role].session.configuration.maxFrameBytes
            #expect(length > 0 && length <= maxFrame, "frame of \(length) bytes exceeds maxFrameBytes \(maxFrame)")
            let credit = creditModel[role, default: [:]][stream, default: Int(ReceiveWindow.initialWindowBytes)]
            #expect(length <= credit, "frame of \(length) bytes exceeds the granted window \(credit)")
            creditModel[role, default: [:]][stream] = credit - length
            self[role].sentData.append(header)
            header.encode(into: &self[role].outgoing)
            self[role].outgoing += bytes[offset..<(offset + length)]
            offset += length
            drain(role)
        }
        return offset
    }

    /// Takes every pending action of `role`, recording events and queueing control frames.
    mutating func drain(_ role: MuxRole) {
        while let action = self[role].session.nextAction() {
            switch action {
            case .sendControl(let header):
                self[role].sentControl.append(header)
                header.encode(into: &self[role].outgoing)
                if header.type == .windowUpdate {
                    // Credit granted by `role` is credit for the other side's sends.
                    let sender: MuxRole = role == .client ? .server : .client
                    let credit = creditModel[sender, default: [:]][
                        header.streamID, default: Int(ReceiveWindow.initialWindowBytes)]
                    creditModel[sender, default: [:]][header.streamID] = credit + Int(header.length)
                }
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
            if client.outgoing.isEmpty && server.outgoing.isEmpty { return }
            deliver(to: .server)
            deliver(to: .client)
        }
        Issue.record("pump did not settle")
    }

    private mutating func deliver(to role: MuxRole) {
        let sender: MuxRole = role == .client ? .server : .client
        let bytes = self[sender].outgoing
        self[sender].outgoing = []
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + min(wireChunkBytes, bytes.count - offset))
            var progress = self[role].session.receive(
                ArrayChunk(Array(bytes[offset..<end])), nowNanoseconds: nowNanoseconds)
            while progress == .paused {
                drain(role)
                progress = self[role].session.resumeReceiving(nowNanoseconds: nowNanoseconds)
            }
            drain(role)
            offset = end
        }
    }

    /// Feeds raw bytes to `role` as if the other side had sent them.
    mutating func inject(_ bytes: [UInt8], into role: MuxRole) {
        let sender: MuxRole = role == .client ? .server : .client
        self[sender].outgoing += bytes
        deliver(to: role)
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
