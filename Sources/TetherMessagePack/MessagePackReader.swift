/// Reads MessagePack values one at a time from a slice of bytes.
///
/// The reader checks every length and count against the bytes left in the input and against its
/// ``MessagePackLimits`` before it hands out or allocates anything, and never traps on malformed
/// input: each problem is a ``MessagePackError`` whose ``MessagePackError/offset`` is counted
/// from the start of ``bytes``. A read that throws leaves the reader where it was.
///
/// Headers (`readArrayHeader()`, `readMapHeader()`) are checked against the limits but the reader
/// does not follow nesting: code that walks containers by hand owns its depth, while
/// ``skipValue()``, ``readValue()`` and ``MessagePackDecoder`` enforce ``MessagePackLimits/maxDepth``.
public struct MessagePackReader: Sendable {
    /// The whole input; ``offset`` counts from its start.
    public let bytes: ArraySlice<UInt8>
    public let limits: MessagePackLimits
    /// The index into `bytes` (not counted from 0) of the next value.
    var index: Int

    public init(bytes: ArraySlice<UInt8>, limits: MessagePackLimits = MessagePackLimits()) {
        self.bytes = bytes
        self.limits = limits
        self.index = bytes.startIndex
    }

    public init(bytes: [UInt8], limits: MessagePackLimits = MessagePackLimits()) {
        self.init(bytes: bytes[...], limits: limits)
    }

    init(bytes: ArraySlice<UInt8>, limits: MessagePackLimits, index: Int) {
        self.bytes = bytes
        self.limits = limits
        self.index = index
    }

    /// How many bytes have been read, from the start of ``bytes``.
    public var offset: Int { index - bytes.startIndex }

    /// True when every byte has been read.
    public var isAtEnd: Bool { index >= bytes.endIndex }

    /// How many bytes are left.
    public var remainingCount: Int { bytes.endIndex - index }

    /// The type of the next value, from its format byte; the reader does not move.
    public func peekType() throws(MessagePackError) -> MessagePackType {
        guard index < bytes.endIndex else { throw error(.truncated, "no value: the input has ended", at: index) }
        let format = bytes[index]
        switch format {
        case 0x00...0x7f, 0xcc...0xcf: return .uint
        case 0x80...0x8f, 0xde, 0xdf: return .map
        case 0x90...0x9f, 0xdc, 0xdd: return .array
        case 0xa0...0xbf, 0xd9...0xdb: return .string
        case 0xc0: return .nil
        case 0xc2, 0xc3: return .bool
        case 0xc4...0xc6: return .binary
        case 0xc7...0xc9, 0xd4...0xd8: return .extension
        case 0xca: return .float
        case 0xcb: return .double
        case 0xd0...0xd3, 0xe0...0xff: return .int
        default: throw error(.invalidFormat, "format byte 0x\(String(format, radix: 16)) is never used", at: index)
        }
    }

    public mutating func readNil() throws(MessagePackError) {
        var position = index
        let header = try readHeader(at: &position)
        guard case .nil = header else { throw mismatch("nil", header, at: index) }
        index = position
    }

    /// Consumes a nil if the next value is one; otherwise (or at the end) the reader does not move.
    public mutating func readIsNil() -> Bool {
        guard index < bytes.endIndex, bytes[index] == MessagePackFormat.nil else { return false }
        index += 1
        return true
    }

    public mutating func readBool() throws(MessagePackError) -> Bool {
        var position = index
        let header = try readHeader(at: &position)
        guard case .bool(let value) = header else { throw mismatch("a bool", header, at: index) }
        index = position
        return value
    }

    /// Any integer format, if the value fits `Int64`.
    public mutating func readInt() throws(MessagePackError) -> Int64 {
        try readInteger(Int64.self)
    }

    /// Any integer format, if the value is not negative.
    public mutating func readUInt() throws(MessagePackError) -> UInt64 {
        try readInteger(UInt64.self)
    }

    /// Any integer format, if the value fits `T`; otherwise ``MessagePackError/Code-swift.struct/integerOverflow``.
    public mutating func readInteger<T: FixedWidthInteger>(_: T.Type = T.self) throws(MessagePackError) -> T {
        var position = index
        let header = try readHeader(at: &position)
        let result: T?
        switch header {
        case .uint(let value): result = T(exactly: value)
        case .int(let value): result = T(exactly: value)
        default: throw mismatch("an integer", header, at: index)
        }
        guard let result else {
            throw error(.integerOverflow, "\(header.integerText) does not fit \(T.self)", at: index)
        }
        index = position
        return result
    }

    /// float64, float32, or an integer that a `Double` holds exactly.
    public mutating func readDouble() throws(MessagePackError) -> Double {
        var position = index
        let header = try readHeader(at: &position)
        let result: Double
        switch header {
        case .double(let value): result = value
        case .float(let value): result = Double(value)
        case .int(let value):
            guard let exact = Double(exactly: value) else { throw inexact(header, Double.self, at: index) }
            result = exact
        case .uint(let value):
            guard let exact = Double(exactly: value) else { throw inexact(header, Double.self, at: index) }
            result = exact
        default: throw mismatch("a float", header, at: index)
        }
        index = position
        return result
    }

    /// float32; float64 rounded to the nearest `Float` unless it lies beyond `Float`'s range; an
    /// integer that a `Float` holds exactly.
    public mutating func readFloat() throws(MessagePackError) -> Float {
        var position = index
        let header = try readHeader(at: &position)
        let result: Float
        switch header {
        case .float(let value): result = value
        case .double(let value):
            result = Float(value)
            guard result.isFinite || !value.isFinite else {
                throw error(.numberNotRepresentable, "float64 \(value) is beyond Float's range", at: index)
            }
        case .int(let value):
            guard let exact = Float(exactly: value) else { throw inexact(header, Float.self, at: index) }
            result = exact
        case .uint(let value):
            guard let exact = Float(exactly: value) else { throw inexact(header, Float.self, at: index) }
            result = exact
        default: throw mismatch("a float", header, at: index)
        }
        index = position
        return result
    }

    /// A string, its UTF-8 validated.
    public mutating func readString() throws(MessagePackError) -> String {
        var position = index
        let header = try readHeader(at: &position)
        guard case .string(let count) = header else { throw mismatch("a string", header, at: index) }
        guard let string = String(validating: bytes[position..<position + count], as: UTF8.self) else {
            throw error(.invalidUTF8, "string of \(count) bytes is not valid UTF-8", at: index)
        }
        index = position + count
        return string
    }

    /// A binary value's bytes, as a slice of ``bytes`` (no copy).
    public mutating func readBinary() throws(MessagePackError) -> ArraySlice<UInt8> {
        var position = index
        let header = try readHeader(at: &position)
        guard case .binary(let count) = header else { throw mismatch("binary", header, at: index) }
        index = position + count
        return bytes[position..<position + count]
    }

    /// An array header: the number of elements that follow.
    public mutating func readArrayHeader() throws(MessagePackError) -> Int {
        var position = index
        let header = try readHeader(at: &position)
        guard case .array(let count) = header else { throw mismatch("an array", header, at: index) }
        index = position
        return count
    }

    /// A map header: the number of key-value pairs that follow.
    public mutating func readMapHeader() throws(MessagePackError) -> Int {
        var position = index
        let header = try readHeader(at: &position)
        guard case .map(let count) = header else { throw mismatch("a map", header, at: index) }
        index = position
        return count
    }

    /// Any extension, including a timestamp (type -1), with its payload as a slice of ``bytes``.
    public mutating func readExtension() throws(MessagePackError) -> (type: Int8, data: ArraySlice<UInt8>) {
        var position = index
        let header = try readHeader(at: &position)
        guard case .extension(let type, let count) = header else { throw mismatch("an extension", header, at: index) }
        index = position + count
        return (type, bytes[position..<position + count])
    }

    /// The timestamp extension (type -1) in any of its three forms.
    public mutating func readTimestamp() throws(MessagePackError) -> MessagePackTimestamp {
        var position = index
        let header = try readHeader(at: &position)
        guard case .extension(MessagePackFormat.timestampType, let count) = header else {
            throw mismatch("a timestamp", header, at: index)
        }
        let timestamp = try timestamp(payload: bytes[position..<position + count], at: index)
        index = position + count
        return timestamp
    }

    func timestamp(payload: ArraySlice<UInt8>, at start: Int) throws(MessagePackError) -> MessagePackTimestamp {
        do {
            return try MessagePackTimestamp(payload: payload)
        } catch {
            throw self.error(error.code, error.message, at: start)
        }
    }
}

extension MessagePackReader {
    func error(_ code: MessagePackError.Code, _ message: String, at position: Int) -> MessagePackError {
        MessagePackError(code, message, offset: position - bytes.startIndex)
    }

    func mismatch(_ expected: String, _ found: Header, at position: Int) -> MessagePackError {
        error(.typeMismatch, "expected \(expected), found \(found.typeDescription)", at: position)
    }

    func inexact(_ found: Header, _ type: Any.Type, at position: Int) -> MessagePackError {
        error(.numberNotRepresentable, "\(found.integerText) is not exactly representable as \(type)", at: position)
    }
}
