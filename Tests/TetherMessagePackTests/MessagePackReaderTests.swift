import Testing
import TetherMessagePack

@Suite struct MessagePackReaderTests {
    @Test(arguments: MessagePackWriterTests.integers)
    func readsEveryIntegerFormat(value: Int64, encoding: String) throws {
        var reader = MessagePackReader(bytes: bytes(encoding))
        let read1 = try reader.readInt()
        #expect(read1 == value)
        #expect(reader.isAtEnd)
    }

    @Test func integerFormatsCrossIntoAnyTypeThatFits() throws {
        // int8 holding 5 (not how Tether writes it, but valid) into unsigned types.
        var reader = MessagePackReader(bytes: bytes("d0 05"))
        let read2 = try reader.readUInt()
        #expect(read2 == 5)
        reader = MessagePackReader(bytes: bytes("cd 00ff"))
        let read3 = try reader.readInteger(UInt8.self)
        #expect(read3 == 255)
        reader = MessagePackReader(bytes: bytes("cf 7fffffffffffffff"))
        let read4 = try reader.readInt()
        #expect(read4 == .max)
    }

    @Test(arguments: [
        ("cc 80", "Int8"), ("cd 0100", "UInt8"), ("ff", "UInt64"), ("d3 8000000000000000", "Int32"),
        ("cf 8000000000000000", "Int64"), ("ce 00010000", "Int16"),
    ])
    func integerThatDoesNotFitThrowsOverflow(encoding: String, typeName: String) {
        let input = bytes(encoding)
        let error = messagePackError {
            var reader = MessagePackReader(bytes: input)
            switch typeName {
            case "Int8": _ = try reader.readInteger(Int8.self)
            case "UInt8": _ = try reader.readInteger(UInt8.self)
            case "UInt64": _ = try reader.readUInt()
            case "Int32": _ = try reader.readInteger(Int32.self)
            case "Int64": _ = try reader.readInt()
            default: _ = try reader.readInteger(Int16.self)
            }
        }
        #expect(error?.code == .integerOverflow)
        #expect(error?.offset == 0)
    }

    @Test func failedReadLeavesTheReaderInPlace() throws {
        var reader = MessagePackReader(bytes: bytes("a3 6f6e65 ff"))
        #expect(throws: MessagePackError.self) { try reader.readInt() }
        #expect(reader.offset == 0)
        let read5 = try reader.readString()
        #expect(read5 == "one")
        #expect(reader.offset == 4)
        #expect(throws: MessagePackError.self) { try reader.readUInt() }
        let read6 = try reader.readInt()
        #expect(read6 == -1)
        #expect(reader.isAtEnd)
    }

    @Test func floatsAcceptBothWidthsAndExactIntegers() throws {
        var reader = MessagePackReader(
            bytes: bytes("ca 3fc00000 cb 3fb999999999999a 2a cb 3fb999999999999a ca 3fc00000"))
        let read7 = try reader.readDouble()
        #expect(read7 == 1.5)
        let read8 = try reader.readDouble()
        #expect(read8 == 0.1)
        let read9 = try reader.readDouble()
        #expect(read9 == 42)
        let read10 = try reader.readFloat()
        #expect(read10 == Float(0.1))
        let read11 = try reader.readFloat()
        #expect(read11 == 1.5)
    }

    @Test func floatRangeAndIntegerPrecisionAreChecked() {
        // 2^53 + 1 is not a Double; 1e300 is beyond Float; 2^24 + 1 is not a Float.
        for (encoding, asFloat) in [
            ("cf 0020000000000001", false), ("cb 7e37e43c8800759c", true), ("ce 01000001", true),
        ] {
            let error = messagePackError {
                var reader = MessagePackReader(bytes: bytes(encoding))
                if asFloat { _ = try reader.readFloat() } else { _ = try reader.readDouble() }
            }
            #expect(error?.code == .numberNotRepresentable, "\(encoding)")
        }
    }

    @Test func infinityAndNaNPassThrough() throws {
        var reader = MessagePackReader(bytes: bytes("cb 7ff0000000000000 cb 7ff8000000000000"))
        let read12 = try reader.readFloat()
        #expect(read12 == .infinity)
        let read13 = try reader.readDouble()
        #expect(read13.isNaN)
    }

    @Test func peekTypeNamesEachFormatWithoutMoving() throws {
        let cases: [(String, MessagePackType)] = [
            ("c0", .nil), ("c3", .bool), ("05", .uint), ("cf", .uint), ("ff", .int), ("d0", .int), ("ca", .float),
            ("cb", .double), ("a1", .string), ("db", .string), ("c4", .binary), ("91", .array), ("dd", .array),
            ("81", .map), ("df", .map), ("d4", .extension), ("c9", .extension),
        ]
        for (encoding, type) in cases {
            let reader = MessagePackReader(bytes: bytes(encoding))
            let read14 = try reader.peekType()
            #expect(read14 == type, "\(encoding)")
            #expect(reader.offset == 0)
        }
    }

    @Test func readIsNilConsumesOnlyNil() throws {
        var reader = MessagePackReader(bytes: bytes("c0 01"))
        let first = reader.readIsNil()
        let second = reader.readIsNil()
        #expect(first && !second)
        let read15 = try reader.readInt()
        #expect(read15 == 1)
        let atEnd = reader.readIsNil()
        #expect(!atEnd)
    }

    @Test func binaryAndExtensionAreSlicesOfTheInput() throws {
        let input = bytes("ff c4 02 0102 d5 07 0304")[1...]
        var reader = MessagePackReader(bytes: input)
        #expect(Array(try reader.readBinary()) == [1, 2])
        let (type, data) = try reader.readExtension()
        #expect(type == 7)
        #expect(Array(data) == [3, 4])
        #expect(reader.offset == 8)
    }

    @Test func headersAndSkipWalkNestedValues() throws {
        // [1, {"a": [true, nil]}, "x"] then 7
        var reader = MessagePackReader(bytes: bytes("93 01 81 a161 92 c3 c0 a178 07"))
        let read16 = try reader.readArrayHeader()
        #expect(read16 == 3)
        try reader.skipValue()
        let read17 = try reader.readMapHeader()
        #expect(read17 == 1)
        let read18 = try reader.readString()
        #expect(read18 == "a")
        try reader.skipValue()
        let read19 = try reader.readString()
        #expect(read19 == "x")
        let read20 = try reader.readInt()
        #expect(read20 == 7)
        reader = MessagePackReader(bytes: bytes("93 01 81 a161 92 c3 c0 a178 07"))
        try reader.skipValue()
        #expect(reader.offset == 10)
    }

    @Test func timestampsInAllThreeForms() throws {
        var reader = MessagePackReader(
            bytes: bytes("d6 ff 00000001 d7 ff 00000004 00000001 c7 0c ff 3b9ac9ff ffffffffffffffff"))
        let read21 = try reader.readTimestamp()
        #expect(read21 == MessagePackTimestamp(seconds: 1))
        let read22 = try reader.readTimestamp()
        #expect(read22 == MessagePackTimestamp(seconds: 1, nanoseconds: 1))
        let read23 = try reader.readTimestamp()
        #expect(read23 == MessagePackTimestamp(seconds: -1, nanoseconds: 999_999_999))
    }

    @Test func readValueNormalizesIntegersAndKeepsMapOrder() throws {
        var reader = MessagePackReader(
            bytes: bytes("84 a162 cc ff a161 d0 05 01 cf ffffffffffffffff c0 d6 ff 00000002"))
        let expected = MessagePackValue.map([
            MessagePackPair(.string("b"), .int(255)),
            MessagePackPair(.string("a"), .int(5)),
            MessagePackPair(.int(1), .uint(.max)),
            MessagePackPair(.nil, .timestamp(MessagePackTimestamp(seconds: 2))),
        ])
        let read24 = try reader.readValue()
        #expect(read24 == expected)
        let read25 = try reader.readValue(from: expected.encoded)
        #expect(read25 == expected)
    }

    @Test func typeMismatchNamesBothTypes() {
        let error = messagePackError {
            var reader = MessagePackReader(bytes: bytes("92 01 02"))
            _ = try reader.readString()
        }
        #expect(error?.code == .typeMismatch)
        #expect(error?.description == "MessagePack typeMismatch (byte 0): expected a string, found an array")
    }
}

extension MessagePackReader {
    fileprivate func readValue(from bytes: [UInt8]) throws -> MessagePackValue {
        var reader = MessagePackReader(bytes: bytes)
        return try reader.readValue()
    }
}
