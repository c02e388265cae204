import PropertyBased

@testable import TetherYamux

// The property tests' vocabulary: what the application on either side does (`ProtocolOp`), the
// limits both sessions run with (`ProtocolLimits`), a whole run (`ProtocolScenario`), its random
// generator and shrinker. `ProtocolRun` (ProtocolRun.swift) plays a scenario against two sessions
// and checks it against a model.

/// One step of a scenario: an application call on one side, or the connection carrying bytes.
///
/// Streams are named by position, `s0`, `s1`…, in the list of streams that side opened or
/// accepted, modulo its length, so every operation means something whatever came before it; on a
/// side with no streams yet, a stream operation does nothing.
enum ProtocolOp: Hashable, Sendable, CustomStringConvertible {
    /// Opens a stream (waits for a free ACK slot if `maxUnacknowledgedStreams` are pending).
    case open(MuxRole)
    /// Accepts the oldest stream the peer opened, if one waits.
    case accept(MuxRole)
    /// Writes `bytes` of the stream's pattern; with `fin`, the last frame closes the write half.
    /// Bytes the session cannot take yet wait for ``SessionAction/streamWritable(streamID:)``.
    case write(MuxRole, stream: Int, bytes: Int, fin: Bool)
    /// Reads (reports consumed) up to `bytes` of what was delivered on the stream.
    case read(MuxRole, stream: Int, bytes: Int)
    /// Closes the write half (FIN), after any bytes still waiting to be written.
    case close(MuxRole, stream: Int)
    /// Resets the stream.
    case reset(MuxRole, stream: Int)
    /// Sends a ping; its reply must come.
    case ping(MuxRole)
    /// Sends GoAway(normal).
    case goAway(MuxRole)
    /// The connection carries up to `bytes` of what is in flight towards `to`; the rest is held
    /// back (delayed), in order. `Int.max` carries everything.
    case deliver(to: MuxRole, bytes: Int)

    var description: String {
        switch self {
        case .open(let side): "\(side).open"
        case .accept(let side): "\(side).accept"
        case .write(let side, let stream, let bytes, let fin):
            "\(side).write(s\(stream), \(bytes) B\(fin ? ", fin" : ""))"
        case .read(let side, let stream, let bytes): "\(side).read(s\(stream), \(bytes == .max ? "all" : "\(bytes) B"))"
        case .close(let side, let stream): "\(side).close(s\(stream))"
        case .reset(let side, let stream): "\(side).reset(s\(stream))"
        case .ping(let side): "\(side).ping"
        case .goAway(let side): "\(side).goAway"
        case .deliver(let side, let bytes): "wire → \(side): \(bytes == .max ? "all" : "\(bytes) B")"
        }
    }

    /// Simpler variants of this operation, simplest first, for shrinking: everything delivered at
    /// once, small sizes, no FIN, the first stream.
    var simplerVariants: [ProtocolOp] {
        var variants: [ProtocolOp] = []
        func sizes(_ bytes: Int) -> [Int] {
            var candidates: [Int] = []
            for size in [1, bytes / 4, bytes / 2, bytes - 1]
            where size >= 1 && size < bytes && !candidates.contains(size) {
                candidates.append(size)
            }
            return candidates
        }
        switch self {
        case .write(let side, let stream, let bytes, let fin):
            if stream != 0 { variants.append(.write(side, stream: 0, bytes: bytes, fin: fin)) }
            if fin { variants.append(.write(side, stream: stream, bytes: bytes, fin: false)) }
            variants += sizes(bytes).map { .write(side, stream: stream, bytes: $0, fin: fin) }
        case .read(let side, let stream, let bytes):
            if stream != 0 { variants.append(.read(side, stream: 0, bytes: bytes)) }
            // Reading everything is the simplest read; it has no smaller variants, so shrinking
            // cannot cycle between "all" and a size.
            if bytes != .max {
                variants.append(.read(side, stream: stream, bytes: .max))
                variants += sizes(bytes).map { .read(side, stream: stream, bytes: $0) }
            }
        case .close(let side, let stream) where stream != 0:
            variants.append(.close(side, stream: 0))
        case .reset(let side, let stream) where stream != 0:
            variants.append(.reset(side, stream: 0))
        case .deliver(let side, let bytes) where bytes != .max:
            variants.append(.deliver(to: side, bytes: .max))
            variants += sizes(bytes).map { .deliver(to: side, bytes: $0) }
        default:
            break
        }
        return variants
    }
}

/// The limits both sessions of a scenario run with: small ones exercise the waits (ACK slots,
/// outbound room, withheld window updates) and refusals (accept backlog) that the defaults hide.
struct ProtocolLimits: Hashable, Sendable, CustomStringConvertible {
    var maxFrameBytes = 65_536
    var maxUnacknowledgedStreams = 256
    var acceptBacklog = 256
    var maxOutboundDataBytes = 4 * 1024 * 1024
    var maxBufferedBytes: UInt64 = 64 * 1024 * 1024

    static let defaults = ProtocolLimits()

    var configuration: MuxConfiguration {
        var configuration = MuxConfiguration.testDefault
        configuration.maxFrameBytes = maxFrameBytes
        configuration.maxUnacknowledgedStreams = maxUnacknowledgedStreams
        configuration.acceptBacklog = acceptBacklog
        configuration.maxOutboundDataBytes = maxOutboundDataBytes
        configuration.maxBufferedBytes = maxBufferedBytes
        return configuration
    }

    var description: String {
        var parts: [String] = []
        let defaults = Self.defaults
        if maxFrameBytes != defaults.maxFrameBytes { parts.append("maxFrameBytes: \(maxFrameBytes)") }
        if maxUnacknowledgedStreams != defaults.maxUnacknowledgedStreams {
            parts.append("maxUnacknowledgedStreams: \(maxUnacknowledgedStreams)")
        }
        if acceptBacklog != defaults.acceptBacklog { parts.append("acceptBacklog: \(acceptBacklog)") }
        if maxOutboundDataBytes != defaults.maxOutboundDataBytes {
            parts.append("maxOutboundDataBytes: \(maxOutboundDataBytes)")
        }
        if maxBufferedBytes != defaults.maxBufferedBytes { parts.append("maxBufferedBytes: \(maxBufferedBytes)") }
        return parts.isEmpty ? "default limits" : parts.joined(separator: ", ")
    }

    /// These limits with one of them set back to its default, for each one that differs.
    var simplerVariants: [ProtocolLimits] {
        var variants: [ProtocolLimits] = []
        let defaults = Self.defaults
        func reset<Value: Equatable>(_ keyPath: WritableKeyPath<ProtocolLimits, Value>) {
            guard self[keyPath: keyPath] != defaults[keyPath: keyPath] else { return }
            var simpler = self
            simpler[keyPath: keyPath] = defaults[keyPath: keyPath]
            variants.append(simpler)
        }
        reset(\.maxFrameBytes)
        reset(\.maxUnacknowledgedStreams)
        reset(\.acceptBacklog)
        reset(\.maxOutboundDataBytes)
        reset(\.maxBufferedBytes)
        return variants
    }
}

/// A whole run: the limits and the operations, in order. Its description lists one operation a
/// line, numbered, so a shrunk counterexample reads as a script.
struct ProtocolScenario: Hashable, Sendable, CustomStringConvertible {
    var limits: ProtocolLimits
    var ops: [ProtocolOp]

    var description: String {
        let lines = ops.enumerated().map { "  \($0.offset): \($0.element)" }
        return "\(limits), \(ops.count) ops:\n" + lines.joined(separator: "\n")
    }
}

extension ProtocolScenario {
    /// Scenarios of up to `maxOps` operations with random limits, shrinking to fewer operations,
    /// simpler operations and default limits.
    static func generator(maxOps: Int = 80) -> Generator<ProtocolScenario, [ProtocolScenario]> {
        Generator(
            run: { rng in
                var limits = ProtocolLimits()
                if Bool.random(using: &rng) { limits.maxFrameBytes = [100, 1_500, 16_384].randomElement(using: &rng)! }
                if Int.random(in: 0..<4, using: &rng) == 0 { limits.maxUnacknowledgedStreams = 2 }
                if Int.random(in: 0..<4, using: &rng) == 0 { limits.acceptBacklog = 2 }
                if Int.random(in: 0..<4, using: &rng) == 0 { limits.maxOutboundDataBytes = 4_096 }
                if Int.random(in: 0..<4, using: &rng) == 0 { limits.maxBufferedBytes = 512 * 1024 }
                let count = Int.random(in: 1...maxOps, using: &rng)
                var ops: [ProtocolOp] = []
                ops.reserveCapacity(count)
                for _ in 0..<count { ops.append(randomOp(using: &rng)) }
                return ProtocolScenario(limits: limits, ops: ops)
            },
            shrink: { $0.shrinkCandidates }
        )
    }

    /// One random operation. Deliveries and writes dominate; sizes are mostly small, sometimes
    /// large enough that a few writes exhaust a 256 KiB window.
    static func randomOp(using rng: inout some RandomNumberGenerator) -> ProtocolOp {
        let side: MuxRole = Bool.random(using: &rng) ? .client : .server
        let stream = Int.random(in: 0..<3, using: &rng)
        func size(small: ClosedRange<Int>, large: ClosedRange<Int>, largeOneIn: Int) -> Int {
            Int.random(in: 0..<largeOneIn, using: &rng) == 0
                ? Int.random(in: large, using: &rng) : Int.random(in: small, using: &rng)
        }
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<10: return .open(side)
        case 10..<18: return .accept(side)
        case 18..<40:
            let bytes = size(small: 1...2_000, large: 30_000...400_000, largeOneIn: 3)
            return .write(side, stream: stream, bytes: bytes, fin: Int.random(in: 0..<5, using: &rng) == 0)
        case 40..<54:
            return .read(side, stream: stream, bytes: size(small: 1...2_000, large: 10_000...300_000, largeOneIn: 2))
        case 54..<60: return .close(side, stream: stream)
        case 60..<64: return .reset(side, stream: stream)
        case 64..<68: return .ping(side)
        case 68..<70: return .goAway(side)
        default:
            let bytes: Int
            switch Int.random(in: 0..<5, using: &rng) {
            case 0, 1: bytes = Int.random(in: 1...24, using: &rng)  // cuts inside frame headers
            case 2, 3: bytes = Int.random(in: 25...5_000, using: &rng)
            default: bytes = .max
            }
            return .deliver(to: side, bytes: bytes)
        }
    }

    /// Smaller scenarios, most shrunk first: runs of operations removed (halves, quarters, … single
    /// ones), then each operation simplified, then each limit set back to its default.
    var shrinkCandidates: [ProtocolScenario] {
        var candidates: [ProtocolScenario] = []
        var chunk = ops.count
        while chunk >= 1 {
            var start = 0
            while start < ops.count {
                var fewer = ops
                fewer.removeSubrange(start..<min(ops.count, start + chunk))
                candidates.append(ProtocolScenario(limits: limits, ops: fewer))
                start += chunk
            }
            chunk /= 2
        }
        for index in ops.indices {
            for variant in ops[index].simplerVariants {
                var simpler = ops
                simpler[index] = variant
                candidates.append(ProtocolScenario(limits: limits, ops: simpler))
            }
        }
        for variant in limits.simplerVariants {
            candidates.append(ProtocolScenario(limits: variant, ops: ops))
        }
        return candidates
    }
}
