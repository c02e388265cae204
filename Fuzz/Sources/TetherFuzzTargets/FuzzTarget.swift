/// The fuzz targets, by the name `--target=NAME` selects and the directory of their seed corpus
/// (`Fuzz/Corpus/NAME`).
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// The yamux frame decoder fed one byte stream cut into chunks at arbitrary points.
    case frames
    /// A yamux session driven by arbitrary frames and application calls, its invariants checked.
    case session
    /// The plugin's handshake line.
    case handshake
    /// The MessagePack reader and Codable decoder.
    case msgpack
    /// The RPC envelope: framing, messages, and arguments decoded into typical types.
    case envelope
    /// A plugin's stderr cut into lines and parsed as hclog records.
    case hclog

    /// Runs the target on one input. An invariant violation traps, so libFuzzer records the input.
    public func run(_ input: [UInt8]) {
        switch self {
        case .frames: FrameDecoderFuzz.run(input)
        case .session: SessionFuzz.run(input)
        case .handshake: HandshakeFuzz.run(input)
        case .msgpack: MessagePackFuzz.run(input)
        case .envelope: EnvelopeFuzz.run(input)
        case .hclog: HclogFuzz.run(input)
        }
    }

    /// The target named on the command line (`--target=NAME`).
    public static let selected: FuzzTarget = {
        let prefix = "--target="
        guard let argument = CommandLine.arguments.last(where: { $0.hasPrefix(prefix) }),
            let target = FuzzTarget(rawValue: String(argument.dropFirst(prefix.count)))
        else {
            let names = allCases.map(\.rawValue).joined(separator: ", ")
            fatalError("tether-fuzz needs --target=NAME, one of: \(names)")
        }
        return target
    }()
}

/// Reads a fuzz input as a sequence of small decisions. Past the end every read returns zero, so
/// any input, even an empty one, describes a complete run.
struct FuzzInput {
    let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset >= bytes.count }

    mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func uint16() -> UInt16 { UInt16(byte()) << 8 | UInt16(byte()) }

    mutating func uint32() -> UInt32 { UInt32(uint16()) << 16 | UInt32(uint16()) }

    /// A number in `0..<count`.
    mutating func below(_ count: Int) -> Int { Int(byte()) % count }

    /// One of `choices`.
    mutating func pick<T>(_ choices: [T]) -> T { choices[below(choices.count)] }

    /// Up to `count` of the remaining bytes.
    mutating func take(_ count: Int) -> [UInt8] {
        let end = min(bytes.count, offset + max(0, count))
        defer { offset = max(offset, end) }
        return offset < end ? Array(bytes[offset..<end]) : []
    }

    /// Every remaining byte.
    mutating func rest() -> [UInt8] { take(bytes.count - offset) }
}

/// Stops the run with a message: libFuzzer records the input as a crash.
func violation(_ message: String, file: StaticString = #fileID, line: UInt = #line) -> Never {
    fatalError("fuzz invariant violated: \(message)", file: file, line: line)
}

func check(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) {
    if !condition { violation(message(), file: file, line: line) }
}

/// Cuts `bytes` at the given offsets (taken modulo the length, sorted, duplicates dropped) into
/// non-empty pieces.
func split(_ bytes: [UInt8], at offsets: [Int]) -> [[UInt8]] {
    guard !bytes.isEmpty else { return [] }
    let cuts = Set(offsets.map { $0 % bytes.count }).filter { $0 > 0 }.sorted()
    var pieces: [[UInt8]] = []
    var start = 0
    for cut in cuts + [bytes.count] {
        pieces.append(Array(bytes[start..<cut]))
        start = cut
    }
    return pieces
}
