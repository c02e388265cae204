import Testing
import TetherMessagePack

@Suite struct MessagePackWriterTests {
    static let integers: [(Int64, String)] = [
        (0, "00"), (1, "01"), (127, "7f"), (128, "cc 80"), (255, "cc ff"), (256, "cd 0100"),
        (65535, "cd ffff"), (65536, "ce 00010000"), (4_294_967_295, "ce ffffffff"),
        (4_294_967_296, "cf 0000000100000000"), (.max, "cf 7fffffffffffffff"),
        (-1, "ff"), (-32, "e0"), (-33, "d0 df"), (-128, "d0 80"), (-129, "d1 ff7f"),
        (-32768, "d1 8000"), (-32769, "d2 ffff7fff"), (-2_147_483_648, "d2 80000000"),
        (-2_147_483_649, "d3 ffffffff7fffffff"), (.min, "d3 8000000000000000"),
    ]

    @Test(arguments: integers)
    func integerTakesTheSmallestFormat(value: Int64, expected: String) {
        var writer = MessagePackWriter()
        writer.writeInt(value)
        #expect(writer.bytes == bytes(expected))
        if value >= 0 {
            var unsigned = MessagePackWriter()
            unsigned.writeUInt(UInt64(value))
            #expect(unsigned.bytes == bytes(expected))
        }
    }

    @Test func largestUnsignedIsUInt64() {
        var writer = MessagePackWriter()
        writer.writeUInt(.max)
        #expect(writer.bytes == bytes("cf ffffffffffffffff"))
    }

    @Test func scalars() {
        var writer = MessagePackWriter()
        writer.writeNil()
        writer.writeBool(false)
        writer.writeBool(true)
        writer.writeFloat(1.5)
        writer.writeDouble(-0.25)
        #expect(writer.bytes == bytes("c0 c2 c3 ca 3fc00000 cb bfd0000000000000"))
    }

    @Test(arguments: [
        (0, "a0"), (31, "bf"), (32, "d9 20"), (255, "d9 ff"), (256, "da 0100"), (65535, "da ffff"),
        (65536, "db 00010000"),
    ])
    func stringHeaderByByteLength(length: Int, header: String) {
        let string = mixedString(byteCount: length)
        var writer = MessagePackWriter()
        writer.writeString(string)
        #expect(writer.bytes == bytes(header) + Array(string.utf8))
    }

    @Test(arguments: [(0, "c4 00"), (255, "c4 ff"), (256, "c5 0100"), (65535, "c5 ffff"), (65536, "c6 00010000")])
    func binaryHeaderByLength(length: Int, header: String) {
        let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0) }
        var writer = MessagePackWriter()
        writer.writeBinary(payload)
        #expect(writer.bytes == bytes(header) + payload)
    }

    @Test(arguments: [
        (0, "90", "80"), (15, "9f", "8f"), (16, "dc 0010", "de 0010"), (65535, "dc ffff", "de ffff"),
        (65536, "dd 00010000", "df 00010000"),
    ])
    func collectionHeaders(count: Int, array: String, map: String) {
        var writer = MessagePackWriter()
        writer.writeArrayHeader(count: count)
        #expect(writer.bytes == bytes(array))
        writer.bytes = []
        writer.writeMapHeader(count: count)
        #expect(writer.bytes == bytes(map))
    }

    @Test(arguments: [
        (0, "c7 00 05"), (1, "d4 05"), (2, "d5 05"), (3, "c7 03 05"), (4, "d6 05"), (8, "d7 05"),
        (16, "d8 05"), (17, "c7 11 05"), (256, "c8 0100 05"), (65536, "c9 00010000 05"),
    ])
    func extensionHeaderBySize(size: Int, header: String) {
        let payload = [UInt8](repeating: 0xab, count: size)
        var writer = MessagePackWriter()
        writer.writeExtension(type: 5, data: payload)
        #expect(writer.bytes == bytes(header) + payload)
    }

    @Test func negativeExtensionType() {
        var writer = MessagePackWriter()
        writer.writeExtension(type: -128, data: [1])
        #expect(writer.bytes == bytes("d4 80 01"))
    }

    @Test(
        arguments: [
            (0, 0, "d6 ff 00000000"),
            (4_294_967_295, 0, "d6 ff ffffffff"),
            (4_294_967_296, 0, "d7 ff 00000001 00000000"),  // 64-bit: nanoseconds 0, seconds 2^32
            (1, 1, "d7 ff 00000004 00000001"),  // nanoseconds sit above the 34 bits of seconds
            (17_179_869_183, 999_999_999, "d7 ff ee6b27ff ffffffff"),
            (17_179_869_184, 0, "c7 0c ff 00000000 0000000400000000"),  // 2^34 needs 96 bits
            (-1, 0, "c7 0c ff 00000000 ffffffffffffffff"),
            (-1, 999_999_999, "c7 0c ff 3b9ac9ff ffffffffffffffff"),
        ] as [(Int64, UInt32, String)])
    func timestampForms(seconds: Int64, nanoseconds: UInt32, expected: String) {
        var writer = MessagePackWriter()
        writer.writeTimestamp(seconds: seconds, nanoseconds: nanoseconds)
        #expect(writer.bytes == bytes(expected))
    }

    @Test func dynamicValueKeepsMapOrder() {
        let value = MessagePackValue.map([
            MessagePackPair(.string("b"), .array([.int(1), .uint(.max), .nil])),
            MessagePackPair(.string("a"), .binary([0xff])),
            MessagePackPair(.int(-1), .extension(type: 1, data: [2])),
        ])
        #expect(value.encoded == bytes("83 a162 9301cfffffffffffffffffc0 a161 c401ff ff d40102"))
    }

    @Test func appendsAfterExistingBytes() {
        var writer = MessagePackWriter(bytes: [0xaa])
        writer.writeInt(1)
        #expect(writer.bytes == [0xaa, 0x01])
    }
}
