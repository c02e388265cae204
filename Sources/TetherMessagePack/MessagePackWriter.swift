/// An append-only writer of MessagePack values into one byte array.
///
/// Every method appends exactly one value (or one header, for arrays and maps, after which the
/// caller writes that many elements or key-value pairs) in the smallest format that holds it,
/// as msgpack-python's packer does with `use_bin_type=True`. The writer does not check that
/// headers are followed by the right number of elements.
///
/// ```swift
/// var writer = MessagePackWriter()
/// writer.writeArrayHeader(count: 2)
/// writer.writeInt(-1)
/// writer.writeString("done")
/// send(writer.bytes)  // [0x92, 0xff, 0xa4, 0x64, 0x6f, 0x6e, 0x65]
/// ```
public struct MessagePackWriter: Sendable {
    /// Everything written so far, after whatever the writer was created with.
    public var bytes: [UInt8]

    public init(bytes: [UInt8] = []) {
        self.bytes = bytes
    }

    public mutating func writeNil() {
        bytes.append(MessagePackFormat.nil)
    }

    public mutating func writeBool(_ value: Bool) {
        bytes.append(value ? MessagePackFormat.true : MessagePackFormat.false)
    }

    /// Non-negative values take the unsigned formats, as msgpack-python writes them; negative
    /// ones the smallest of negative fixint, int8, int16, int32, int64.
    public mutating func writeInt(_ value: Int64) {
        if value >= 0 {
            writeUInt(UInt64(value))
        } else if value >= -32 {
            bytes.append(UInt8(truncatingIfNeeded: value))
        } else if value >= Int64(Int8.min) {
            bytes.append(MessagePackFormat.int8)
            bytes.append(UInt8(truncatingIfNeeded: value))
        } else if value >= Int64(Int16.min) {
            bytes.append(MessagePackFormat.int16)
            bytes.appendBigEndian(Int16(truncatingIfNeeded: value))
        } else if value >= Int64(Int32.min) {
            bytes.append(MessagePackFormat.int32)
            bytes.appendBigEndian(Int32(truncatingIfNeeded: value))
        } else {
            bytes.append(MessagePackFormat.int64)
            bytes.appendBigEndian(value)
        }
    }

    /// The smallest of positive fixint, uint8, uint16, uint32, uint64.
    public mutating func writeUInt(_ value: UInt64) {
        if value <= UInt64(MessagePackFormat.positiveFixintMax) {
            bytes.append(UInt8(truncatingIfNeeded: value))
        } else if value <= UInt64(UInt8.max) {
            bytes.append(MessagePackFormat.uint8)
            bytes.append(UInt8(truncatingIfNeeded: value))
        } else if value <= UInt64(UInt16.max) {
            bytes.append(MessagePackFormat.uint16)
            bytes.appendBigEndian(UInt16(truncatingIfNeeded: value))
        } else if value <= UInt64(UInt32.max) {
            bytes.append(MessagePackFormat.uint32)
            bytes.appendBigEndian(UInt32(truncatingIfNeeded: value))
        } else {
            bytes.append(MessagePackFormat.uint64)
            bytes.appendBigEndian(value)
        }
    }

    /// float32.
    public mutating func writeFloat(_ value: Float) {
        bytes.append(MessagePackFormat.float32)
        bytes.appendBigEndian(value.bitPattern)
    }

    /// float64.
    public mutating func writeDouble(_ value: Double) {
        bytes.append(MessagePackFormat.float64)
        bytes.appendBigEndian(value.bitPattern)
    }

    /// fixstr, str8, str16 or str32 with the string's UTF-8 bytes.
    ///
    /// - Precondition: the string is shorter than 4 GiB in UTF-8.
    public mutating func writeString(_ value: String) {
        let utf8 = value.utf8
        writeStringHeader(byteCount: utf8.count)
        bytes.append(contentsOf: utf8)
    }

    /// The header of a string of `byteCount` UTF-8 bytes, which the caller appends next.
    mutating func writeStringHeader(byteCount: Int) {
        precondition(byteCount <= MessagePackFormat.maxLength, "MessagePack strings are shorter than 4 GiB")
        if byteCount <= 31 {
            bytes.append(MessagePackFormat.fixstr | UInt8(truncatingIfNeeded: byteCount))
        } else if byteCount <= Int(UInt8.max) {
            bytes.append(MessagePackFormat.str8)
            bytes.append(UInt8(truncatingIfNeeded: byteCount))
        } else if byteCount <= Int(UInt16.max) {
            bytes.append(MessagePackFormat.str16)
            bytes.appendBigEndian(UInt16(truncatingIfNeeded: byteCount))
        } else {
            bytes.append(MessagePackFormat.str32)
            bytes.appendBigEndian(UInt32(truncatingIfNeeded: byteCount))
        }
    }

    /// bin8, bin16 or bin32.
    ///
    /// - Precondition: fewer than 4 GiB.
    public mutating func writeBinary(_ value: some Collection<UInt8>) {
        let count = value.count
        precondition(count <= MessagePackFormat.maxLength, "MessagePack binary values are shorter than 4 GiB")
        if count <= Int(UInt8.max) {
            bytes.append(MessagePackFormat.bin8)
            bytes.append(UInt8(truncatingIfNeeded: count))
        } else if count <= Int(UInt16.max) {
            bytes.append(MessagePackFormat.bin16)
            bytes.appendBigEndian(UInt16(truncatingIfNeeded: count))
        } else {
            bytes.append(MessagePackFormat.bin32)
            bytes.appendBigEndian(UInt32(truncatingIfNeeded: count))
        }
        bytes.append(contentsOf: value)
    }

    /// fixarray, array16 or array32; the caller writes `count` elements next.
    ///
    /// - Precondition: `0 <= count < 2^32`.
    public mutating func writeArrayHeader(count: Int) {
        writeCollectionHeader(count: count, fix: MessagePackFormat.fixarray, format16: MessagePackFormat.array16)
    }

    /// fixmap, map16 or map32; the caller writes `count` key-value pairs next, key first.
    ///
    /// - Precondition: `0 <= count < 2^32`.
    public mutating func writeMapHeader(count: Int) {
        writeCollectionHeader(count: count, fix: MessagePackFormat.fixmap, format16: MessagePackFormat.map16)
    }

    private mutating func writeCollectionHeader(count: Int, fix: UInt8, format16: UInt8) {
        precondition(count >= 0 && count <= MessagePackFormat.maxLength, "MessagePack collections hold < 2^32 items")
        if count <= 15 {
            bytes.append(fix | UInt8(truncatingIfNeeded: count))
        } else if count <= Int(UInt16.max) {
            bytes.append(format16)
            bytes.appendBigEndian(UInt16(truncatingIfNeeded: count))
        } else {
            bytes.append(format16 + 1)  // array32 follows array16, map32 follows map16
            bytes.appendBigEndian(UInt32(truncatingIfNeeded: count))
        }
    }

    /// fixext1/2/4/8/16 when the payload has one of those sizes, else ext8, ext16 or ext32.
    ///
    /// - Precondition: the payload is shorter than 4 GiB.
    public mutating func writeExtension(type: Int8, data: some Collection<UInt8>) {
        writeExtensionHeader(type: type, count: data.count)
        bytes.append(contentsOf: data)
    }

    private mutating func writeExtensionHeader(type: Int8, count: Int) {
        precondition(count <= MessagePackFormat.maxLength, "MessagePack extensions are shorter than 4 GiB")
        switch count {
        case 1: bytes.append(MessagePackFormat.fixext1)
        case 2: bytes.append(MessagePackFormat.fixext2)
        case 4: bytes.append(MessagePackFormat.fixext4)
        case 8: bytes.append(MessagePackFormat.fixext8)
        case 16: bytes.append(MessagePackFormat.fixext16)
        case 0...Int(UInt8.max):
            bytes.append(MessagePackFormat.ext8)
            bytes.append(UInt8(truncatingIfNeeded: count))
        case 0...Int(UInt16.max):
            bytes.append(MessagePackFormat.ext16)
            bytes.appendBigEndian(UInt16(truncatingIfNeeded: count))
        default:
            bytes.append(MessagePackFormat.ext32)
            bytes.appendBigEndian(UInt32(truncatingIfNeeded: count))
        }
        bytes.append(UInt8(bitPattern: type))
    }

    /// The timestamp extension (type -1) in its smallest form: 32-bit (fixext4) for whole
    /// seconds in 0..<2^32, 64-bit (fixext8) for seconds in 0..<2^34, 96-bit (ext8, 12 bytes)
    /// otherwise, including every time before 1970.
    ///
    /// - Precondition: `nanoseconds < 1_000_000_000`.
    public mutating func writeTimestamp(seconds: Int64, nanoseconds: UInt32) {
        writeTimestamp(MessagePackTimestamp(seconds: seconds, nanoseconds: nanoseconds))
    }

    public mutating func writeTimestamp(_ timestamp: MessagePackTimestamp) {
        writeExtensionHeader(type: MessagePackFormat.timestampType, count: timestamp.payloadCount)
        timestamp.appendPayload(to: &bytes)
    }

    /// Writes a dynamic value, recursively; maps keep their order.
    public mutating func write(_ value: MessagePackValue) {
        switch value {
        case .nil: writeNil()
        case .bool(let bool): writeBool(bool)
        case .int(let int): writeInt(int)
        case .uint(let uint): writeUInt(uint)
        case .float(let float): writeFloat(float)
        case .double(let double): writeDouble(double)
        case .string(let string): writeString(string)
        case .binary(let binary): writeBinary(binary)
        case .array(let elements):
            writeArrayHeader(count: elements.count)
            for element in elements { write(element) }
        case .map(let pairs):
            writeMapHeader(count: pairs.count)
            for pair in pairs {
                write(pair.key)
                write(pair.value)
            }
        case .extension(let type, let data): writeExtension(type: type, data: data)
        case .timestamp(let timestamp): writeTimestamp(timestamp)
        }
    }
}
