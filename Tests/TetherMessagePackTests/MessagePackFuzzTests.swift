import Foundation
import Testing
import TetherMessagePack

/// SplitMix64: a small seeded generator, so every run fuzzes the same inputs.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// A Codable shape whose every field is optional, decoded from the generated maps (which use
/// its keys) so the fuzzer reaches keyed, unkeyed and nested decoding.
struct FuzzRecord: Codable, Equatable {
    var a: Int?
    var b: String?
    var c: [Double]?
    var d: [String: UInt8]?
    var e: Data?
    var f: Date?
    var g: [FuzzRecord]?
}

@Suite struct MessagePackFuzzTests {
    static let keys = ["a", "b", "c", "d", "e", "f", "g"]

    static func randomValue(_ rng: inout SeededGenerator, depth: Int = 0) -> MessagePackValue {
        switch Int.random(in: 0..<(depth < 4 ? 15 : 11), using: &rng) {
        case 0: return .nil
        case 1: return .bool(Bool.random(using: &rng))
        case 2: return .int(Int64.random(in: -40...200, using: &rng))
        case 3: return .int(Int64.random(in: .min ... .max, using: &rng) >> Int64.random(in: 0..<64, using: &rng))
        case 4: return .uint(UInt64.random(in: UInt64(Int64.max) + 1 ... .max, using: &rng))
        case 5: return .float(Float(bitPattern: UInt32.random(in: 0 ... .max, using: &rng)))
        case 6: return .double(Double.random(in: -1e6...1e6, using: &rng))
        case 7:
            let scalars = (0..<Int.random(in: 0..<40, using: &rng)).map { _ in
                ["a", "é", "€", "😀", "Z", "\u{0}"].randomElement(using: &rng)!
            }
            return .string(scalars.joined())
        case 8:
            return .binary(
                (0..<Int.random(in: 0..<300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
        case 9:
            let size = [0, 1, 2, 3, 4, 8, 16, 17].randomElement(using: &rng)!
            return .extension(type: Int8.random(in: 0...127, using: &rng), data: Array(repeating: 7, count: size))
        case 10:
            return .timestamp(
                MessagePackTimestamp(
                    seconds: Int64.random(in: -1 << 40...1 << 40, using: &rng) >> Int64.random(in: 0..<40, using: &rng),
                    nanoseconds: UInt32.random(in: 0..<1_000_000_000, using: &rng)
                        * UInt32.random(in: 0...1, using: &rng)))
        case 11, 12:
            return .array((0..<Int.random(in: 0..<20, using: &rng)).map { _ in randomValue(&rng, depth: depth + 1) })
        default:
            let pairs = (0..<Int.random(in: 0..<8, using: &rng)).map { _ in
                let key: MessagePackValue =
                    Bool.random(using: &rng) ? .string(keys.randomElement(using: &rng)!) : randomValue(&rng, depth: 4)
                return MessagePackPair(key, randomValue(&rng, depth: depth + 1))
            }
            return .map(pairs)
        }
    }

    static func mutate(_ input: [UInt8], _ rng: inout SeededGenerator) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
            guard !bytes.isEmpty else { return bytes }
            let index = Int.random(in: 0..<bytes.count, using: &rng)
            switch Int.random(in: 0..<6, using: &rng) {
            case 0: bytes[index] = UInt8.random(in: 0...255, using: &rng)
            case 1:
                bytes[index] = [0xc1, 0xdd, 0xdf, 0xdb, 0xc6, 0xc9, 0xff, 0x00, 0x91, 0xd6].randomElement(using: &rng)!
            case 2: bytes.removeSubrange(index...)
            case 3: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: index)
            case 4: bytes.remove(at: index)
            default: bytes.insert(contentsOf: bytes[index..<min(bytes.count, index + 8)], at: index)
            }
        }
        return bytes
    }

    /// Runs every decoding entry point on `input`; anything but success or a MessagePackError is
    /// recorded. Returns whether the whole input was one valid value.
    @discardableResult
    static func exercise(_ input: [UInt8], limits: MessagePackLimits) -> Bool {
        let decoder = MessagePackDecoder(limits: limits)
        var valueReader = MessagePackReader(bytes: input, limits: limits)
        var skipReader = valueReader
        let value = Result { try valueReader.readValue() }
        let skipped = Result { try skipReader.skipValue() }
        // readValue and skipValue agree on validity and on where the value ends, except that
        // skipping checks no UTF-8 and no timestamp payloads.
        switch (value, skipped) {
        case (.success, .success): #expect(valueReader.offset == skipReader.offset)
        case (.success, .failure(let error)): Issue.record("skipValue failed where readValue did not: \(error)")
        case (.failure(let error), .success):
            let code = (error as? MessagePackError)?.code
            #expect(code == .invalidUTF8 || code == .invalidTimestamp, "\(error)")
        case (.failure, .failure): break
        }
        let dynamic = Result { try decoder.decode(MessagePackValue.self, from: input) }
        let wholeInputIsOneValue = (try? value.get()) != nil && valueReader.isAtEnd
        #expect(((try? dynamic.get()) != nil) == wholeInputIsOneValue)
        for attempt in [dynamic.map { _ in () }, Result { _ = try decoder.decode(FuzzRecord.self, from: input) }] {
            if case .failure(let error) = attempt, !(error is MessagePackError) {
                Issue.record("not a MessagePackError: \(error)")
            }
        }
        return wholeInputIsOneValue
    }

    @Test func generatedValuesRoundTripAndMutationsFailCleanly() throws {
        var rng = SeededGenerator(state: 0x7e7e_4e72)
        let tight = MessagePackLimits(
            maxDepth: 3, maxCollectionCount: 6, maxStringBytes: 20, maxBinaryBytes: 40, maxExtensionBytes: 8)
        var valid = 0
        for _ in 0..<1_500 {
            let value = Self.randomValue(&rng)
            let encoded = value.encoded
            var reader = MessagePackReader(bytes: encoded)
            #expect(identical(try reader.readValue(), value))
            #expect(try MessagePackEncoder().encode(value) == encoded)
            for _ in 0..<4 {
                let mutated = Self.mutate(encoded, &rng)
                if Self.exercise(mutated, limits: MessagePackLimits()) { valid += 1 }
                Self.exercise(mutated, limits: tight)
            }
        }
        // The mutations must not all be rejected at the first byte: some stay valid.
        #expect(valid > 100)
    }

    @Test func randomBytes() {
        var rng = SeededGenerator(state: 42)
        for _ in 0..<3_000 {
            let input = (0..<Int.random(in: 0..<24, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            Self.exercise(input, limits: MessagePackLimits())
        }
    }

    @Test func recordsRoundTripThroughCodable() throws {
        var rng = SeededGenerator(state: 7)
        func record(_ depth: Int) -> FuzzRecord {
            FuzzRecord(
                a: Bool.random(using: &rng) ? Int.random(in: .min ... .max, using: &rng) : nil,
                b: Bool.random(using: &rng) ? String(repeating: "é", count: Int.random(in: 0..<40, using: &rng)) : nil,
                c: Bool.random(using: &rng) ? [Double.random(in: -1...1, using: &rng), .infinity] : nil,
                d: Bool.random(using: &rng) ? ["k": UInt8.random(in: 0...255, using: &rng)] : nil,
                e: Bool.random(using: &rng) ? Data(repeating: 1, count: Int.random(in: 0..<300, using: &rng)) : nil,
                f: Bool.random(using: &rng)
                    ? Date(timeIntervalSince1970: Double(Int32.random(in: .min ... .max, using: &rng))) : nil,
                g: depth < 3 && Bool.random(using: &rng)
                    ? (0..<Int.random(in: 0..<4, using: &rng)).map { _ in record(depth + 1) } : nil)
        }
        for _ in 0..<300 {
            let value = record(0)
            let encoded = try MessagePackEncoder().encode(value)
            #expect(try MessagePackDecoder().decode(FuzzRecord.self, from: encoded) == value)
            Self.exercise(Self.mutate(encoded, &rng), limits: MessagePackLimits())
        }
    }
}
