import Foundation
import Testing
import TetherMessagePack
import TetherTesting

/// Runs `Python/msgpack_vectors.py` with the python3 on PATH and msgpack-python, the reference
/// implementation (`make python-deps` installs it).
enum PythonReference {
    static let scriptPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Python/msgpack_vectors.py").path

    /// True when python3 can import msgpack (asked once).
    static let isAvailable = Task { (try? await run(["-c", "import msgpack"]))?.status == 0 }

    /// Outside CI the cross-check may be skipped when Python or msgpack is missing; with `CI` set
    /// it runs, and a missing reference fails it.
    static func shouldRun() async -> Bool {
        ProcessInfo.processInfo.environment["CI"] != nil ? true : await isAvailable.value
    }

    /// Runs `python3 arguments…` with `input` on stdin; returns its exit status, stdout and stderr.
    static func run(_ arguments: [String], input: String = "") async throws -> (
        status: Int32, output: String, errors: String
    ) {
        let result = try await ChildRun.run("/usr/bin/env", ["python3"] + arguments, input: input)
        return (result.status, result.stdout, result.stderr)
    }

    struct Vector: Decodable {
        var name: String
        var hex: String
    }

    struct CheckResult: Decodable {
        var name: String
        var ok: Bool
        var problem: String
    }

    /// Each vector's name and msgpack-python's bytes, in the script's order (run once).
    static let vectors = Task<[(name: String, bytes: [UInt8])], any Error> {
        let (status, output, errors) = try await run([scriptPath, "vectors"])
        guard status == 0 else {
            throw PythonFailure(description: "msgpack_vectors.py vectors exited \(status): \(errors)")
        }
        return try output.split(separator: "\n").map { line in
            let vector = try JSONDecoder().decode(Vector.self, from: Data(line.utf8))
            return (vector.name, try decodeHex(vector.hex))
        }
    }

    struct PythonFailure: Error, CustomStringConvertible {
        var description: String
    }

    static func decodeHex(_ text: String) throws -> [UInt8] {
        func nibble(_ character: UInt8) throws -> UInt8 {
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
            default: throw PythonFailure(description: "not hex: \(character)")
            }
        }
        let digits = Array(text.utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index + 1 < digits.count {
            bytes.append(try nibble(digits[index]) << 4 | nibble(digits[index + 1]))
            index += 2
        }
        return bytes
    }
}

/// The values of the script's vectors, built independently in Swift.
enum ReferenceVectors {
    static let integers: [Int128] = [
        0, 1, 127, 128, 255, 256, 65535, 65536, 1 << 32 - 1, 1 << 32, 1 << 63 - 1, 1 << 63, 1 << 64 - 1,
        -1, -32, -33, -128, -129, -32768, -32769, -(1 << 31), -(1 << 31) - 1, -(1 << 63),
    ]
    static let lengths = [0, 31, 32, 255, 256, 65535, 65536]
    static let counts = [0, 15, 16, 65535, 65536]
    static let extensionSizes = [0, 1, 2, 4, 8, 16, 17, 256, 65536]

    static func string(_ text: String) -> MessagePackValue { .string(text) }

    static let values: [String: MessagePackValue] = {
        var values: [String: MessagePackValue] = ["nil": .nil, "true": .bool(true), "false": .bool(false)]
        for integer in integers {
            values["int.\(integer)"] = Int64(exactly: integer).map { .int($0) } ?? .uint(UInt64(integer))
        }
        let floats: [String: Float] = [
            "0": 0, "neg_zero": -0.0, "1.5": 1.5, "-2.25": -2.25, "max": .greatestFiniteMagnitude,
            "min_subnormal": .leastNonzeroMagnitude, "inf": .infinity,
        ]
        for (name, float) in floats { values["float32.\(name)"] = .float(float) }
        let doubles: [String: Double] = [
            "0": 0, "neg_zero": -0.0, "0.1": 0.1, "1e300": 1e300, "-inf": -.infinity, "nan": .nan,
            "min_subnormal": .leastNonzeroMagnitude, "max": .greatestFiniteMagnitude,
        ]
        for (name, double) in doubles { values["float64.\(name)"] = .double(double) }
        for length in lengths {
            values["str.\(length)"] = .string(mixedString(byteCount: length))
            values["bin.\(length)"] = .binary((0..<length).map { UInt8(truncatingIfNeeded: $0) })
        }
        values["str.ascii"] = .string("hello")
        for count in counts {
            values["array.\(count)"] = .array((0..<count).map { .int(Int64($0 % 2 == 0 ? $0 : -$0)) })
            values["map.\(count)"] = .map((0..<count).map { MessagePackPair(.string(String($0)), .int(Int64($0))) })
        }
        values["nested.mixed"] = .map([
            MessagePackPair(
                .string("a"),
                .array([.int(1), .array([.int(2), .array([.int(3), .map([MessagePackPair(.string("b"), .nil)])])])])),
            MessagePackPair(
                .string("c"),
                .map([MessagePackPair(.string("d"), .bool(true)), MessagePackPair(.string("e"), .binary([0, 1]))])),
            MessagePackPair(.string("f"), .double(-1.5)),
        ])
        values["nested.int_keys"] = .map([
            MessagePackPair(.int(1), .string("x")), MessagePackPair(.int(-2), .string("y")),
            MessagePackPair(.int(300), .array([.nil, .bool(false)])),
        ])
        values["nested.array_of_maps"] = .array(
            (0..<3).map { index in
                .map([
                    MessagePackPair(.string("k"), .int(Int64(index))),
                    MessagePackPair(.string("v"), .array([.int(Int64(index)), .string(String(index))])),
                ])
            })
        for size in extensionSizes {
            values["ext.\(size)"] = .extension(type: 5, data: (0..<size).map { UInt8(truncatingIfNeeded: $0 * 7) })
        }
        values["ext.type_0"] = .extension(type: 0, data: [1])
        values["ext.type_127"] = .extension(type: 127, data: [2, 3])
        let timestamps: [String: (Int64, UInt32)] = [
            "32.zero": (0, 0), "32.max": (1 << 32 - 1, 0), "64.seconds": (1 << 32, 0), "64.nanoseconds": (1, 1),
            "64.max": (1 << 34 - 1, 999_999_999), "96.seconds": (1 << 34, 0), "96.negative": (-1, 0),
            "96.negative_nanoseconds": (-1, 999_999_999), "96.min": (.min, 0), "96.max": (.max, 999_999_999),
        ]
        for (name, (seconds, nanoseconds)) in timestamps {
            values["timestamp.\(name)"] = .timestamp(MessagePackTimestamp(seconds: seconds, nanoseconds: nanoseconds))
        }
        return values
    }()

    struct Point: Codable, Equatable {
        var x: Int
        var y: Int
    }

    struct Person: Codable, Equatable {
        struct Address: Codable, Equatable {
            var street: String
            var zip: UInt32
        }
        var name: String
        var age: Int
        var avatar: Data
        var joined: Date
        var manager: String?
        var scores: [Double]
        var tags: [String]
        var address: Address
    }

    struct Integers: Codable, Equatable {
        var i8 = Int8.min, i16 = Int16.min, i32 = Int32.min, i64 = Int64.min
        var u8 = UInt8.max, u16 = UInt16.max, u32 = UInt32.max, u64 = UInt64.max
        var int = Int.max, uint: UInt = 0
    }

    /// A Codable value: how Swift encodes it, and whether bytes decode back to it.
    struct Typed: Sendable {
        var encode: @Sendable () throws -> [UInt8]
        var decodesFrom: @Sendable ([UInt8]) throws -> Bool

        init<T: Codable & Equatable & Sendable>(_ value: T) {
            encode = { try MessagePackEncoder().encode(value) }
            decodesFrom = { try MessagePackDecoder().decode(T.self, from: $0) == value }
        }
    }

    static let codable: [String: Typed] = [
        "codable.point": Typed(Point(x: 1, y: -1)),
        "codable.person": Typed(
            Person(
                name: "Ada", age: 36, avatar: Data([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a]),
                joined: Date(timeIntervalSince1970: 1_700_000_000.5), manager: nil, scores: [1.5, -0.25],
                tags: ["x", "ÿ€"], address: .init(street: "Main", zip: 12345))),
        "codable.shapes": Typed([MessagePackCodableTests.Shape.circle(radius: 2), .rectangle(1, 2.5), .empty]),
        "codable.integers": Typed(Integers()),
    ]

    /// The typed Swift value for a dynamic vector where there is one, so plain Codable types are
    /// checked against the reference too (`Int64` for "int.-1", `Data` for "bin.…", …).
    static func typed(_ value: MessagePackValue) -> Typed? {
        switch value {
        case .int(let int): return Typed(int)
        case .uint(let uint): return Typed(uint)
        case .bool(let bool): return Typed(bool)
        case .float(let float) where !float.isNaN: return Typed(float)
        case .double(let double) where !double.isNaN: return Typed(double)
        case .string(let string): return Typed(string)
        case .binary(let binary): return Typed(Data(binary))
        case .extension(let type, let data): return Typed(MessagePackExtension(type: type, data: data))
        case .timestamp(let timestamp): return Typed(timestamp)
        case .array(let elements):
            // Arrays of integers as [Int64]; the vectors have no other homogeneous arrays.
            let integers = elements.compactMap { element -> Int64? in
                guard case .int(let int) = element else { return nil }
                return int
            }
            return integers.count == elements.count ? Typed(integers) : nil
        default: return nil
        }
    }
}

@Suite(
    .enabled("needs python3 with msgpack (make python-deps)") { await PythonReference.shouldRun() },
    .timeLimit(.minutes(1))
)
struct MessagePackPythonTests {
    @Test func vectorNamesMatchOneForOne() async throws {
        let names = try await PythonReference.vectors.value.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(Set(names) == Set(ReferenceVectors.values.keys).union(ReferenceVectors.codable.keys))
    }

    @Test func pythonEncodingsDecodeToTheExpectedValues() async throws {
        let decoder = MessagePackDecoder()
        for (name, bytes) in try await PythonReference.vectors.value {
            if let expected = ReferenceVectors.values[name] {
                let decoded = try decoder.decode(MessagePackValue.self, from: bytes)
                #expect(identical(decoded, expected), "\(name)")
                if let typed = ReferenceVectors.typed(expected) { #expect(try typed.decodesFrom(bytes), "\(name)") }
            } else if let typed = ReferenceVectors.codable[name] {
                #expect(try typed.decodesFrom(bytes), "\(name)")
            }
        }
    }

    @Test func swiftEncodingsEqualPythonsByteForByte() async throws {
        for (name, bytes) in try await PythonReference.vectors.value {
            if let expected = ReferenceVectors.values[name] {
                #expect(expected.encoded == bytes, "\(name)")
                if let typed = ReferenceVectors.typed(expected) { #expect(try typed.encode() == bytes, "\(name)") }
            } else if let typed = ReferenceVectors.codable[name] {
                let encoded = try typed.encode()
                #expect(encoded == bytes, "\(name): \(hex(encoded))")
            }
        }
    }

    @Test func pythonReadsSwiftEncodings() async throws {
        var lines: [String] = []
        for (name, value) in ReferenceVectors.values {
            lines.append("\(name) \(hex(value.encoded))")
            if let typed = ReferenceVectors.typed(value) { lines.append("\(name) \(hex(try typed.encode()))") }
        }
        for (name, typed) in ReferenceVectors.codable { lines.append("\(name) \(hex(try typed.encode()))") }
        let (status, output, errors) = try await PythonReference.run(
            [PythonReference.scriptPath, "check"], input: lines.joined(separator: "\n"))
        try #require(status == 0, "msgpack_vectors.py check exited \(status): \(errors)")
        let results = try output.split(separator: "\n").map {
            try JSONDecoder().decode(PythonReference.CheckResult.self, from: Data($0.utf8))
        }
        #expect(results.count == lines.count)
        for result in results where !result.ok {
            Issue.record("Python read Swift's \(result.name) differently: \(result.problem)")
        }
    }
}
