import Foundation
import Testing
import TetherMessagePack

/// MessagePackTimestamp, MessagePackExtension and MessagePackValue on their own and with other
/// coders.
@Suite struct MessagePackValueTypesTests {
    @Test func timestampFromDateRoundsToTheNearestNanosecond() throws {
        let almostNextSecond = try MessagePackTimestamp(Date(timeIntervalSinceReferenceDate: 0.999_999_999_9))
        #expect(almostNextSecond == MessagePackTimestamp(seconds: 978_307_201, nanoseconds: 0))
        let beforeEpoch = try MessagePackTimestamp(Date(timeIntervalSince1970: -0.25))
        #expect(beforeEpoch == MessagePackTimestamp(seconds: -1, nanoseconds: 750_000_000))
        #expect(beforeEpoch.date == Date(timeIntervalSince1970: -0.25))
        let distantPast = try MessagePackTimestamp(Date.distantPast)
        #expect(distantPast.date == Date.distantPast)
    }

    @Test func datesThatFitNoTimestampThrow() {
        for date in [
            Date(timeIntervalSinceReferenceDate: .nan), Date(timeIntervalSinceReferenceDate: .infinity),
            Date(timeIntervalSinceReferenceDate: -1e19),
        ] {
            #expect(messagePackError { _ = try MessagePackTimestamp(date) }?.code == .invalidValue)
        }
    }

    @Test func timestampAndExtensionAreKeyedForOtherCoders() throws {
        let timestamp = MessagePackTimestamp(seconds: -5, nanoseconds: 7)
        let json = try JSONEncoder().encode(timestamp)
        #expect(try JSONDecoder().decode(MessagePackTimestamp.self, from: json) == timestamp)
        let invalid = Data(#"{"seconds": 1, "nanoseconds": 1000000000}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(MessagePackTimestamp.self, from: invalid) }
        let ext = MessagePackExtension(type: 3, data: [1, 2])
        #expect(try JSONDecoder().decode(MessagePackExtension.self, from: JSONEncoder().encode(ext)) == ext)
    }

    @Test func dynamicValueEncodesForOtherEncodersButDecodesOnlyFromMessagePack() throws {
        let value = MessagePackValue.map([
            MessagePackPair(.string("list"), .array([.int(1), .bool(true), .nil, .string("s")]))
        ])
        let json = try JSONEncoder().encode(value)
        #expect(String(decoding: json, as: UTF8.self) == #"{"list":[1,true,null,"s"]}"#)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(MessagePackValue.self, from: json) }
        let nonStringKey = MessagePackValue.map([MessagePackPair(.int(1), .nil)])
        #expect(throws: EncodingError.self) { try JSONEncoder().encode(nonStringKey) }
    }

    @Test func dynamicValueSubscriptFindsStringKeys() {
        let value = MessagePackValue.map([
            MessagePackPair(.int(1), .bool(true)), MessagePackPair(.string("a"), .int(2)),
        ])
        #expect(value["a"] == .int(2))
        #expect(value["b"] == nil)
        #expect(MessagePackValue.array([])["a"] == nil)
    }

    @Test func optionalsInArraysAreNil() throws {
        let values: [Int?] = [1, nil, 3]
        let encoded = try MessagePackEncoder().encode(values)
        #expect(encoded == bytes("93 01 c0 03"))
        #expect(try MessagePackDecoder().decode([Int?].self, from: encoded) == values)
        #expect(try MessagePackDecoder().decode(Int?.self, from: [0xc0]) == nil)
    }

    /// A superclass as the next array element, through the unkeyed containers' super coders.
    struct Pair: Codable, Equatable {
        var first: String
        var second: Int

        init(first: String, second: Int) {
            (self.first, self.second) = (first, second)
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.unkeyedContainer()
            try first.encode(to: container.superEncoder())
            try container.encode(second)
            #expect(container.count == 2)
        }

        init(from decoder: any Decoder) throws {
            var container = try decoder.unkeyedContainer()
            #expect(container.count == 2)
            first = try String(from: container.superDecoder())
            second = try container.decode(Int.self)
            #expect(container.isAtEnd)
            #expect(messagePackError { _ = try container.decode(Int.self) }?.code == .valueNotFound)
        }
    }

    @Test func unkeyedSuperCoders() throws {
        let encoded = try MessagePackEncoder().encode(Pair(first: "a", second: 2))
        #expect(encoded == bytes("92 a161 02"))
        #expect(try MessagePackDecoder().decode(Pair.self, from: encoded) == Pair(first: "a", second: 2))
    }
}
