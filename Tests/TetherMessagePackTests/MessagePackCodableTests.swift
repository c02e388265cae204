import Foundation
import Testing
import TetherMessagePack

/// Round trips and exact encodings through MessagePackEncoder and MessagePackDecoder.
@Suite struct MessagePackCodableTests {
    let encoder = MessagePackEncoder()
    let decoder = MessagePackDecoder()

    func roundTrip<T: Codable & Equatable>(_ value: T) throws -> [UInt8] {
        let encoded = try encoder.encode(value)
        #expect(try decoder.decode(T.self, from: encoded) == value)
        return encoded
    }

    func decodingError<T: Decodable>(_ type: T.Type, _ input: [UInt8]) -> MessagePackError? {
        messagePackError { _ = try decoder.decode(type, from: input) }
    }

    struct Point: Codable, Equatable {
        var x: Int
        var y: Int
    }

    @Test func structBecomesMapWithTestKeysInDeclarationOrder() throws {
        #expect(try roundTrip(Point(x: 1, y: -1)) == bytes("82 a178 01 a179 ff"))
    }

    @Test func everyIntegerTypeAtItsBounds() throws {
        #expect(try roundTrip([Int8.min, 0, Int8.max]) == bytes("93 d080 00 7f"))
        #expect(try roundTrip([Int16.min, Int16.max]) == bytes("92 d18000 cd7fff"))
        #expect(try roundTrip([Int32.min, Int32.max]) == bytes("92 d280000000 ce7fffffff"))
        #expect(try roundTrip([Int64.min, Int64.max]) == bytes("92 d38000000000000000 cf7fffffffffffffff"))
        #expect(try roundTrip([Int.min, Int.max]) == bytes("92 d38000000000000000 cf7fffffffffffffff"))
        #expect(try roundTrip([UInt8.max, UInt8.min]) == bytes("92 ccff 00"))
        #expect(try roundTrip([UInt16.max]) == bytes("91 cdffff"))
        #expect(try roundTrip([UInt32.max]) == bytes("91 ceffffffff"))
        #expect(try roundTrip([UInt64.max]) == bytes("91 cfffffffffffffffff"))
        #expect(try roundTrip([UInt.max]) == bytes("91 cfffffffffffffffff"))
    }

    @Test func integersDecodeFromAnyFormatIntoAnyTypeTheyFit() throws {
        // uint8 200 into Int16, int16 -5 into Int8, uint64 7 into UInt8, positive int8 into UInt.
        #expect(try decoder.decode(Int16.self, from: bytes("cc c8")) == 200)
        #expect(try decoder.decode(Int8.self, from: bytes("d1 fffb")) == -5)
        #expect(try decoder.decode(UInt8.self, from: bytes("cf 0000000000000007")) == 7)
        #expect(try decoder.decode(UInt.self, from: bytes("d0 05")) == 5)
    }

    @Test func integersThatDoNotFitThrowOverflow() {
        #expect(decodingError(UInt8.self, bytes("cd 012c"))?.code == .integerOverflow)  // 300
        #expect(decodingError(UInt.self, bytes("ff"))?.code == .integerOverflow)  // -1
        #expect(decodingError(Int64.self, bytes("cf ffffffffffffffff"))?.code == .integerOverflow)
        #expect(decodingError(Int8.self, bytes("d0 80 "))?.code == nil)  // -128 fits
        #expect(decodingError(Int8.self, bytes("d1 ff7f"))?.code == .integerOverflow)  // -129
        let error = decodingError(Point.self, bytes("82 a178 01 a179 cf ffffffffffffffff"))
        #expect(error?.code == .integerOverflow)
        #expect(error?.codingPath == "y")
        #expect(error?.offset == 6)
    }

    @Test func floatIsFloat32AndDoubleIsFloat64() throws {
        #expect(try roundTrip(Float(1.5)) == bytes("ca 3fc00000"))
        #expect(try roundTrip(-0.25) == bytes("cb bfd0000000000000"))
        #expect(try decoder.decode(Double.self, from: bytes("ca 3fc00000")) == 1.5)
        #expect(try decoder.decode(Float.self, from: bytes("cb 3fd0000000000000")) == 0.25)
        #expect(try decoder.decode(Double.self, from: bytes("d0 fb")) == -5)
        #expect(decodingError(Double.self, bytes("a0"))?.code == .typeMismatch)
    }

    @Test func dataIsBinaryAndByteArraysAreArrays() throws {
        #expect(try roundTrip(Data([1, 2, 3])) == bytes("c4 03 010203"))
        #expect(try roundTrip([UInt8]([1, 2, 3])) == bytes("93 01 02 03"))
        let large = Data(repeating: 7, count: 70_000)
        #expect(try roundTrip(large).prefix(5) == bytes("c6 00011170")[...])
        #expect(decodingError(Data.self, bytes("93 01 02 03"))?.code == .typeMismatch)
    }

    @Test func dateIsATimestamp() throws {
        #expect(try roundTrip(Date(timeIntervalSince1970: 1)) == bytes("d6 ff 00000001"))
        #expect(try roundTrip(Date(timeIntervalSince1970: 1_700_000_000.5)) == bytes("d7 ff 77359400 6553f100"))
        #expect(try roundTrip(Date(timeIntervalSince1970: -1.5)) == bytes("c7 0c ff 1dcd6500 fffffffffffffffe"))
        #expect(try roundTrip(Date(timeIntervalSinceReferenceDate: 0)) == bytes("d6 ff 3a4fc880"))
        let timestamp = MessagePackTimestamp(seconds: 1_700_000_000, nanoseconds: 123_456_789)
        #expect(try roundTrip(timestamp) == bytes("d7 ff 1d6f3454 6553f100"))
        #expect(
            try decoder.decode(Date.self, from: bytes("c7 0c ff 00000000 ffffffffffffffff"))
                == Date(timeIntervalSince1970: -1))
    }

    @Test func datesBeyondTimestampRangeThrow() {
        let error = messagePackError { _ = try encoder.encode(["when": Date(timeIntervalSince1970: 1e300)]) }
        #expect(error?.code == .invalidValue)
        #expect(error?.codingPath == "when")
    }

    @Test func extensionsRoundTripAnyType() throws {
        #expect(try roundTrip(MessagePackExtension(type: 9, data: [0xaa])) == bytes("d4 09 aa"))
        #expect(try roundTrip(MessagePackExtension(type: 9, data: [])) == bytes("c7 00 09"))
        #expect(
            try roundTrip(MessagePackExtension(type: -100, data: Array(repeating: 1, count: 17))).prefix(3)
                == bytes("c7 11 9c")[...])
        // A timestamp read as a raw extension keeps its payload.
        #expect(
            try decoder.decode(MessagePackExtension.self, from: bytes("d6 ff 00000001"))
                == MessagePackExtension(type: -1, data: [0, 0, 0, 1]))
    }

    @Test func stringsAndNonASCII() throws {
        #expect(try roundTrip("") == bytes("a0"))
        #expect(try roundTrip("é") == bytes("a2 c3a9"))
        let long = mixedString(byteCount: 300)
        #expect(try roundTrip(long).prefix(3) == bytes("da 012c")[...])
    }

    struct Envelope: Codable, Equatable {
        var id: UInt32
        var name: String?
        var tags: [String]
        var attributes: [String: Int]
        var nested: Point?
        var raw: MessagePackValue
    }

    @Test func optionalsNilAreLeftOutAndDecodeAsMissing() throws {
        let value = Envelope(id: 7, name: nil, tags: [], attributes: [:], nested: nil, raw: .nil)
        let encoded = try roundTrip(value)
        #expect(encoded == bytes("84 a26964 07 a474616773 90 aa61747472696275746573 80 a3726177 c0"))
        // Explicit nil for an optional decodes as nil too.
        let explicit = try decoder.decode(
            Envelope.self, from: bytes("85 a26964 07 a46e616d65 c0 a474616773 90 aa61747472696275746573 80 a3726177 c0")
        )
        #expect(explicit.name == nil)
    }

    @Test func nestedContainersAndDynamicValues() throws {
        let value = Envelope(
            id: 1, name: "n", tags: ["a", "b"], attributes: ["k": -3], nested: Point(x: 2, y: 3),
            raw: .map([MessagePackPair(.int(1), .array([.binary([0]), .double(0.5), .timestamp(.init(seconds: 5))]))]))
        _ = try roundTrip(value)
    }

    @Test func keysInAnyOrderAndUnknownKeysIgnored() throws {
        // {"z": [1, {"deep": nil}], "y": 2, "x": 1}
        let point = try decoder.decode(Point.self, from: bytes("83 a17a 92 01 81 a464656570 c0 a179 02 a178 01"))
        #expect(point == Point(x: 1, y: 2))
    }

    @Test func duplicateKeyIsAnError() {
        let error = decodingError(Point.self, bytes("83 a178 01 a179 02 a178 03"))
        #expect(error?.code == .duplicateKey)
        #expect(error?.offset == 7)
        // Large maps use a hash table for the same check.
        var writer = MessagePackWriter()
        writer.writeMapHeader(count: 40)
        for key in 0..<39 {
            writer.writeString("k\(key)")
            writer.writeInt(Int64(key))
        }
        writer.writeString("k3")
        writer.writeInt(0)
        #expect(decodingError([String: Int].self, writer.bytes)?.code == .duplicateKey)
    }

    @Test func missingKeyAndNilValue() {
        var error = decodingError(Point.self, bytes("81 a178 01"))
        #expect(error?.code == .keyNotFound)
        #expect(error?.message.contains("\"y\"") == true)
        error = decodingError(Point.self, bytes("82 a178 01 a179 c0"))
        #expect(error?.code == .valueNotFound)
        #expect(error?.codingPath == "y")
        #expect(decodingError(Point.self, bytes("c0"))?.code == .valueNotFound)
        #expect(decodingError([Int].self, bytes("c0"))?.code == .valueNotFound)
    }

    @Test func typeMismatchCarriesThePath() {
        let error = decodingError([Point].self, bytes("92 82 a178 01 a179 02 82 a178 01 a179 a0"))
        #expect(error?.code == .typeMismatch)
        #expect(error?.codingPath == "1.y")
        #expect(decodingError(Point.self, bytes("92 01 02"))?.code == .typeMismatch)
        #expect(decodingError(Point.self, bytes("81 c3 01"))?.code == .invalidKey)
    }

    @Test func dictionariesWithIntegerKeys() throws {
        #expect(try roundTrip([3: "c"]) == bytes("81 a133 a163"))
        // Other implementations write integer keys; they match by their decimal text.
        #expect(try decoder.decode([Int: String].self, from: bytes("82 03 a163 ff a16d")) == [3: "c", -1: "m"])
    }

    enum Shape: Codable, Equatable {
        case circle(radius: Double)
        case rectangle(Double, Double)
        case empty
    }

    @Test func enumsWithAssociatedValues() throws {
        #expect(
            try roundTrip(Shape.circle(radius: 2)) == bytes("81 a6636972636c65 81 a6726164697573 cb4000000000000000"))
        #expect(
            try roundTrip(Shape.rectangle(1, 2))
                == bytes("81 a972656374616e676c65 82 a25f30 cb3ff0000000000000 a25f31 cb4000000000000000"))
        #expect(try roundTrip(Shape.empty) == bytes("81 a5656d707479 80"))
        #expect(try roundTrip([Shape.empty, .circle(radius: 1)]).count == 34)
    }

    class Animal: Codable, Equatable {
        var name: String
        init(name: String) { self.name = name }
        static func == (a: Animal, b: Animal) -> Bool { a.isEqual(to: b) }
        func isEqual(to other: Animal) -> Bool { type(of: self) == type(of: other) && name == other.name }
    }

    /// Encodes its superclass under "super" (superEncoder).
    final class Dog: Animal {
        var breed: String
        init(name: String, breed: String) {
            self.breed = breed
            super.init(name: name)
        }
        enum CodingKeys: String, CodingKey { case breed }
        required init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            breed = try container.decode(String.self, forKey: .breed)
            try super.init(from: container.superDecoder())
        }
        override func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(breed, forKey: .breed)
            try super.encode(to: container.superEncoder())
        }
        override func isEqual(to other: Animal) -> Bool {
            super.isEqual(to: other) && breed == (other as? Dog)?.breed
        }
    }

    /// Shares one map with its superclass.
    final class Cat: Animal {
        var lives: Int
        init(name: String, lives: Int) {
            self.lives = lives
            super.init(name: name)
        }
        enum CodingKeys: String, CodingKey { case lives }
        required init(from decoder: any Decoder) throws {
            lives = try decoder.container(keyedBy: CodingKeys.self).decode(Int.self, forKey: .lives)
            try super.init(from: decoder)
        }
        override func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(lives, forKey: .lives)
            try super.encode(to: encoder)
        }
        override func isEqual(to other: Animal) -> Bool {
            super.isEqual(to: other) && lives == (other as? Cat)?.lives
        }
    }

    @Test func classesWithInheritance() throws {
        let dog = try roundTrip(Dog(name: "Rex", breed: "lab"))
        #expect(dog == bytes("82 a56272656564 a36c6162 a57375706572 81 a46e616d65 a3526578"))
        let cat = try roundTrip(Cat(name: "Tom", lives: 9))
        #expect(cat == bytes("82 a56c69766573 09 a46e616d65 a3546f6d"))
    }

    struct Manual: Codable, Equatable {
        var a: Int
        var list: [Int]
        var inner: [String: Bool]
        var extra: String

        enum Keys: String, CodingKey { case a, list, inner, custom }
        enum InnerKeys: String, CodingKey { case flag }

        init(a: Int, list: [Int], inner: [String: Bool], extra: String) {
            (self.a, self.list, self.inner, self.extra) = (a, list, inner, extra)
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(a, forKey: .a)
            var list = container.nestedUnkeyedContainer(forKey: .list)
            for element in self.list { try list.encode(element) }
            var nested = list.nestedUnkeyedContainer()  // an array inside the array
            try nested.encodeNil()
            var inner = container.nestedContainer(keyedBy: InnerKeys.self, forKey: .inner)
            try inner.encode(self.inner["flag"] ?? false, forKey: .flag)
            try extra.encode(to: container.superEncoder(forKey: .custom))
            _ = container.superEncoder()  // encodes nothing: nil under "super"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Keys.self)
            a = try container.decode(Int.self, forKey: .a)
            var list = try container.nestedUnkeyedContainer(forKey: .list)
            var elements: [Int] = []
            while !list.isAtEnd {
                if let element = try? list.decode(Int.self) {
                    elements.append(element)
                } else {
                    var nested = try list.nestedUnkeyedContainer()
                    #expect(try nested.decodeNil())
                    #expect(nested.isAtEnd)
                }
            }
            self.list = elements
            let inner = try container.nestedContainer(keyedBy: InnerKeys.self, forKey: .inner)
            self.inner = ["flag": try inner.decode(Bool.self, forKey: .flag)]
            extra = try String(from: container.superDecoder(forKey: .custom))
            #expect(try container.superDecoder().singleValueContainer().decodeNil())
        }
    }

    @Test func nestedAndSuperContainersByHand() throws {
        let value = Manual(a: 1, list: Array(0..<20), inner: ["flag": true], extra: "x")
        let encoded = try roundTrip(value)
        // The 21-element list grew its header from fixarray to array16 in place.
        #expect(encoded.starts(with: bytes("85 a161 01 a46c697374 dc0015 00 01")))
        let tail = bytes("a5696e6e6572 81 a4666c6167 c3 a6637573746f6d a178 a57375706572 c0")
        #expect(encoded.suffix(tail.count) == tail[...])
    }

    @Test func userInfoReachesTheCodableTypes() throws {
        struct Probe: Codable {
            static let key = CodingUserInfoKey(rawValue: "probe")!
            var seen: String
            init(seen: String) { self.seen = seen }
            init(from decoder: any Decoder) throws { seen = decoder.userInfo[Self.key] as? String ?? "none" }
            func encode(to encoder: any Encoder) throws {
                var container = encoder.singleValueContainer()
                try container.encode(encoder.userInfo[Self.key] as? String ?? "none")
            }
        }
        var encoder = MessagePackEncoder()
        encoder.userInfo[Probe.key] = "enc"
        #expect(try encoder.encode(Probe(seen: "")) == bytes("a3 656e63"))
        var decoder = MessagePackDecoder()
        decoder.userInfo[Probe.key] = "dec"
        #expect(try decoder.decode(Probe.self, from: bytes("c0")).seen == "dec")
    }

    @Test func encodingAppendsAndDecodingFromAReaderAdvances() throws {
        var bytes: [UInt8] = [0xaa]
        try encoder.encode(Point(x: 1, y: 2), appendingTo: &bytes)
        try encoder.encode("tail", appendingTo: &bytes)
        var reader = MessagePackReader(bytes: bytes[1...])
        #expect(try decoder.decode(Point.self, from: &reader) == Point(x: 1, y: 2))
        #expect(reader.offset == 7)
        #expect(try decoder.decode(String.self, from: &reader) == "tail")
        #expect(reader.isAtEnd)
    }

    @Test func arrayAtTheTopFindsItsEndBySkipping() throws {
        var reader = MessagePackReader(bytes: bytes("92 01 81 a161 02 c3"))
        #expect(try decoder.decode([MessagePackValue].self, from: &reader).count == 2)
        #expect(try decoder.decode(Bool.self, from: &reader))
        // A partially read array still moves the reader past all of it.
        struct First: Decodable {
            var first: Int
            init(from decoder: any Decoder) throws {
                var container = try decoder.unkeyedContainer()
                first = try container.decode(Int.self)
            }
        }
        reader = MessagePackReader(bytes: bytes("93 01 02 03 c2"))
        #expect(try decoder.decode(First.self, from: &reader).first == 1)
        #expect(reader.offset == 4)
    }

    @Test func trailingBytesAreAnError() {
        let error = decodingError(Int.self, bytes("01 02"))
        #expect(error?.code == .trailingBytes)
        #expect(error?.offset == 1)
    }

    @Test func failedEncodeLeavesTheBufferAsItWas() {
        struct Bad: Encodable {
            func encode(to encoder: any Encoder) throws {
                var container = encoder.unkeyedContainer()
                try container.encode(1)
                throw EncodingError.invalidValue(1, .init(codingPath: [], debugDescription: "no"))
            }
        }
        var bytes: [UInt8] = [1, 2]
        #expect(throws: EncodingError.self) { try encoder.encode(Bad(), appendingTo: &bytes) }
        #expect(bytes == [1, 2])
    }

    @Test func misusedContainersThrowInsteadOfWritingGarbage() {
        struct TwoKinds: Encodable {
            func encode(to encoder: any Encoder) throws {
                var keyed = encoder.container(keyedBy: TestKey.self)
                try keyed.encode(1, forKey: TestKey("a"))
                var unkeyed = encoder.unkeyedContainer()
                try unkeyed.encode(2)
            }
        }
        struct Interleaved: Encodable {
            func encode(to encoder: any Encoder) throws {
                var outer = encoder.unkeyedContainer()
                var inner = outer.nestedUnkeyedContainer()
                try outer.encode(1)
                try inner.encode(2)  // inner was finished when outer was written to
            }
        }
        struct TwiceSingle: Encodable {
            func encode(to encoder: any Encoder) throws {
                var container = encoder.singleValueContainer()
                try container.encode(1)
                try container.encode(2)
            }
        }
        for value in [TwoKinds() as any Encodable, Interleaved(), TwiceSingle()] {
            let error = messagePackError { _ = try encoder.encode(value) }
            #expect(error?.code == .invalidContainerUse, "\(type(of: value))")
        }
    }

    @Test func encodingNothingIsNil() throws {
        struct Nothing: Encodable {
            func encode(to encoder: any Encoder) throws {}
        }
        #expect(try encoder.encode(Nothing()) == [0xc0])
        #expect(try encoder.encode([Nothing(), Nothing()]) == bytes("92 c0 c0"))
    }

    @Test func codingPathsSeenByTheTypes() throws {
        struct Recorder: Codable {
            var path: String
            init(path: String) { self.path = path }
            init(from decoder: any Decoder) throws {
                path = decoder.codingPath.map(\.stringValue).joined(separator: "/")
            }
            func encode(to encoder: any Encoder) throws {
                var container = encoder.singleValueContainer()
                try container.encode(encoder.codingPath.map(\.stringValue).joined(separator: "/"))
            }
        }
        struct Holder: Codable { var items: [[String: Recorder]] }
        let encoded = try encoder.encode(Holder(items: [["k": Recorder(path: "")]]))
        #expect(try decoder.decode(Holder.self, from: encoded).items[0]["k"]?.path == "items/0/k")
        let strings = try decoder.decode([String: [[String: String]]].self, from: encoded)
        #expect(strings["items"]?[0]["k"] == "items/0/k")
    }
}

/// A key that is any string, for tests that build maps by hand.
struct TestKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
