import Foundation
import Testing
import TetherMessagePack

/// Malformed, truncated, oversized and too-deep input: each is a specific MessagePackError,
/// never a crash.
@Suite struct MessagePackHostileInputTests {
    /// One valid encoding of every format.
    static let validEncodings: [String] = [
        "c0", "c2", "c3", "7f", "e0", "cc ff", "cd ffff", "ce ffffffff", "cf ffffffffffffffff", "d0 80",
        "d1 8000", "d2 80000000", "d3 8000000000000000", "ca 3fc00000", "cb 3ff8000000000000",
        "a3 616263", "d9 03 616263", "da 0003 616263", "db 00000003 616263",
        "c4 02 0102", "c5 0002 0102", "c6 00000002 0102",
        "92 01 a161", "dc 0002 01 02", "dd 00000002 01 02",
        "81 a161 01", "de 0001 a161 01", "df 00000001 a161 01",
        "d4 01 aa", "d5 01 aabb", "d6 ff 00000001", "d7 ff 0000000400000001", "d8 01 00112233445566778899aabbccddeeff",
        "c7 0c ff 00000000 ffffffffffffffff", "c8 0001 05 aa", "c9 00000001 05 aa",
        "93 81 a178 92 c0 c3 a0 c4 00",
    ]

    @Test(arguments: validEncodings)
    func everyProperPrefixIsTruncated(encoding: String) throws {
        let input = bytes(encoding)
        var full = MessagePackReader(bytes: input)
        _ = try full.readValue()
        #expect(full.isAtEnd)
        for length in 0..<input.count {
            let prefix = input[..<length]
            var reader = MessagePackReader(bytes: prefix)
            #expect(messagePackError { _ = try reader.readValue() }?.code == .truncated, "\(length) bytes")
            #expect(messagePackError { try reader.skipValue() }?.code == .truncated, "\(length) bytes")
            #expect(reader.offset == 0)
            let decoded = messagePackError { _ = try MessagePackDecoder().decode(MessagePackValue.self, from: prefix) }
            #expect(decoded?.code == .truncated, "\(length) bytes")
        }
    }

    @Test func neverUsedFormatByte() {
        for input in ["c1", "92 01 c1", "81 c1 01", "81 a161 c1"] {
            var reader = MessagePackReader(bytes: bytes(input))
            let error = messagePackError { _ = try reader.readValue() }
            #expect(error?.code == .invalidFormat, "\(input)")
            #expect(error?.offset == bytes(input).firstIndex(of: 0xc1), "\(input)")
        }
        #expect(throws: MessagePackError.self) { try MessagePackReader(bytes: [0xc1]).peekType() }
    }

    /// Six bytes claiming four billion elements: the limit says no before anything is allocated;
    /// without the limit the bytes left say no.
    @Test(arguments: [
        ("dd ffffffff 00", "maxCollectionCount"), ("df ffffffff 00", "maxCollectionCount"),
        ("db ffffffff 00", "maxStringBytes"), ("c6 ffffffff 00", "maxBinaryBytes"),
        ("c9 ffffffff 01 00", "maxExtensionBytes"),
    ])
    func oversizeLengths(input: String, limitName: String) {
        var reader = MessagePackReader(bytes: bytes(input))
        let limited = messagePackError { try reader.skipValue() }
        #expect(limited?.code == .limitExceeded)
        #expect(limited?.message.contains(limitName) == true)
        #expect(limited?.offset == 0)

        let unlimited = MessagePackLimits(
            maxDepth: 128, maxCollectionCount: .max, maxStringBytes: .max, maxBinaryBytes: .max,
            maxExtensionBytes: .max)
        reader = MessagePackReader(bytes: bytes(input), limits: unlimited)
        #expect(messagePackError { _ = try reader.readValue() }?.code == .truncated)
        let decoded = messagePackError {
            _ = try MessagePackDecoder(limits: unlimited).decode(MessagePackValue.self, from: bytes(input))
        }
        #expect(decoded?.code == .truncated)
    }

    @Test func oversizeCountsThroughCodable() {
        let decoder = MessagePackDecoder()
        #expect(
            messagePackError { _ = try decoder.decode([Int].self, from: bytes("dd ffffffff 00")) }?.code
                == .limitExceeded)
        #expect(
            messagePackError { _ = try decoder.decode([String: Int].self, from: bytes("df ffffffff 00")) }?.code
                == .limitExceeded)
        #expect(
            messagePackError { _ = try decoder.decode(Data.self, from: bytes("c6 ffffffff 00")) }?.code
                == .limitExceeded)
        // A map of n entries needs at least 2n bytes.
        #expect(
            messagePackError { _ = try decoder.decode([String: Int].self, from: bytes("83 a161 01 a162")) }?.code
                == .truncated)
    }

    @Test func limitsAreInclusive() throws {
        let limits = MessagePackLimits(
            maxCollectionCount: 2, maxStringBytes: 3, maxBinaryBytes: 1, maxExtensionBytes: 2)
        let decoder = MessagePackDecoder(limits: limits)
        #expect(try decoder.decode([String].self, from: bytes("92 a3616263 a0")) == ["abc", ""])
        let cases: [(String, String)] = [
            ("93 01 02 03", "maxCollectionCount"), ("a4 61626364", "maxStringBytes"),
            ("c4 02 0102", "maxBinaryBytes"), ("d6 01 00000000", "maxExtensionBytes"),
            ("83 a161 01 a162 02 a163 03", "maxCollectionCount"),
        ]
        for (input, limitName) in cases {
            let error = messagePackError { _ = try decoder.decode(MessagePackValue.self, from: bytes(input)) }
            #expect(error?.code == .limitExceeded, "\(input)")
            #expect(error?.message.contains(limitName) == true, "\(input)")
        }
    }

    static let deepNesting = [UInt8](repeating: 0x91, count: 100_000) + [0x01]

    /// An array of arrays of … decoded through Codable's own recursion.
    struct Nested: Decodable {
        var inner: [Nested]
        init(from decoder: any Decoder) throws {
            inner = try [Nested](from: decoder)
        }
    }

    @Test func hundredThousandNestedArraysStopAtMaxDepth() {
        var reader = MessagePackReader(bytes: Self.deepNesting)
        let skipped = messagePackError { try reader.skipValue() }
        #expect(skipped?.code == .depthExceeded)
        #expect(skipped?.offset == 128)  // the 129th array
        #expect(messagePackError { _ = try reader.readValue() }?.code == .depthExceeded)
        let decoder = MessagePackDecoder()
        #expect(
            messagePackError { _ = try decoder.decode(MessagePackValue.self, from: Self.deepNesting) }?.code
                == .depthExceeded)
        #expect(
            messagePackError { _ = try decoder.decode(Nested.self, from: Self.deepNesting) }?.code == .depthExceeded)
        // Deep maps too: {"a": {"a": …}}
        let maps = Array([[UInt8]](repeating: [0x81, 0xa1, 0x61], count: 10_000).joined()) + [0xc0]
        #expect(messagePackError { _ = try decoder.decode(MessagePackValue.self, from: maps) }?.code == .depthExceeded)
    }

    @Test func maxDepthIsExact() throws {
        let limits = MessagePackLimits(maxDepth: 128)
        let allowed = [UInt8](repeating: 0x91, count: 128) + [0x01]
        var reader = MessagePackReader(bytes: allowed, limits: limits)
        try reader.skipValue()
        let decoder = MessagePackDecoder(limits: limits)
        _ = try decoder.decode(MessagePackValue.self, from: allowed)
        _ = try decoder.decode(Nested.self, from: [UInt8](repeating: 0x91, count: 127) + [0x90])
        let error = messagePackError { _ = try decoder.decode(Nested.self, from: [0x91] + allowed) }
        #expect(error?.code == .depthExceeded)
        #expect(error?.codingPath == Array(repeating: "0", count: 128).joined(separator: "."))
    }

    @Test(arguments: ["a2 c328", "a2 c080", "a3 eda080", "a1 ff", "a1 80", "a4 f4908080", "a2 e282"])
    func invalidUTF8(input: String) {
        var reader = MessagePackReader(bytes: bytes(input))
        #expect(messagePackError { _ = try reader.readString() }?.code == .invalidUTF8)
        #expect(messagePackError { _ = try reader.readValue() }?.code == .invalidUTF8)
        #expect(
            messagePackError { _ = try MessagePackDecoder().decode(String.self, from: bytes(input)) }?.code
                == .invalidUTF8)
        // As a map key.
        let key = bytes("81") + bytes(input) + [0x01]
        #expect(
            messagePackError { _ = try MessagePackDecoder().decode([String: Int].self, from: key) }?.code
                == .invalidUTF8)
    }

    @Test(arguments: [
        "d4 ff 00", "d5 ff 0000", "d8 ff 00000000000000000000000000000000", "c7 00 ff", "c7 05 ff 0000000000",
        "c7 0d ff 00000000000000000000000000",
        "d7 ff fffffffc 00000000",  // 64-bit form with 1,073,741,823 nanoseconds
        "c7 0c ff 3b9aca00 0000000000000000",  // 96-bit form with 1,000,000,000 nanoseconds
    ])
    func invalidTimestamps(input: String) throws {
        var reader = MessagePackReader(bytes: bytes(input))
        #expect(messagePackError { _ = try reader.readTimestamp() }?.code == .invalidTimestamp)
        #expect(messagePackError { _ = try reader.readValue() }?.code == .invalidTimestamp)
        #expect(
            messagePackError { _ = try MessagePackDecoder().decode(Date.self, from: bytes(input)) }?.code
                == .invalidTimestamp)
        // Still an extension, readable raw.
        let (type, _) = try reader.readExtension()
        #expect(type == -1)
    }

    @Test func errorsPointAtTheOffendingValue() {
        // [1, "x", <truncated str8 claiming 200 bytes>]
        let input = bytes("93 01 a178 d9 c8 6162")
        var reader = MessagePackReader(bytes: input)
        let error = messagePackError { _ = try reader.readValue() }
        #expect(error?.code == .truncated)
        #expect(error?.offset == 4)
        #expect(error?.message == "string of 200 bytes but only 2 bytes are left")
        let decoded = messagePackError { _ = try MessagePackDecoder().decode([String].self, from: input) }
        #expect(decoded?.code == .typeMismatch)
        #expect(decoded?.codingPath == "0")
    }
}
