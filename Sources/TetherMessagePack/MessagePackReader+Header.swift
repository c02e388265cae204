extension MessagePackReader {
    /// One value's format byte and fixed-size fields, parsed. For strings, binary and extensions
    /// the payload's length has been checked against the limits and the bytes left; for arrays and
    /// maps the count against the limit and the bytes left (every element takes at least one).
    enum Header {
        case `nil`
        case bool(Bool)
        case uint(UInt64)
        case int(Int64)
        case float(Float)
        case double(Double)
        case string(count: Int)
        case binary(count: Int)
        case array(count: Int)
        case map(count: Int)
        case `extension`(type: Int8, count: Int)

        var typeDescription: String {
            switch self {
            case .nil: "nil"
            case .bool: "a bool"
            case .uint, .int: "an integer"
            case .float, .double: "a float"
            case .string: "a string"
            case .binary: "binary"
            case .array: "an array"
            case .map: "a map"
            case .extension(let type, _): type == MessagePackFormat.timestampType ? "a timestamp" : "extension \(type)"
            }
        }

        /// The integer, for messages.
        var integerText: String {
            switch self {
            case .uint(let value): "\(value)"
            case .int(let value): "\(value)"
            default: typeDescription
            }
        }
    }

    /// Parses the header at `position` and moves `position` past it: past the whole value for
    /// scalars, to the first payload byte for strings, binary and extensions, to the first
    /// element for arrays and maps.
    func readHeader(at position: inout Int) throws(MessagePackError) -> Header {
        let start = position
        let format = try fixed(UInt8.self, at: &position, start: start)
        switch format {
        case 0x00...0x7f: return .uint(UInt64(format))
        case 0x80...0x8f: return try map(count: Int(format & 0x0f), at: position, start: start)
        case 0x90...0x9f: return try array(count: Int(format & 0x0f), at: position, start: start)
        case 0xa0...0xbf: return try string(count: Int(format & 0x1f), at: position, start: start)
        case 0xc0: return .nil
        case 0xc2: return .bool(false)
        case 0xc3: return .bool(true)
        case 0xc4...0xc6:
            let count = try length(format - 0xc4, at: &position, start: start)
            return try binary(count: count, at: position, start: start)
        case 0xc7...0xc9:
            let count = try length(format - 0xc7, at: &position, start: start)
            return try extensionHeader(count: count, at: &position, start: start)
        case 0xca: return .float(Float(bitPattern: try fixed(UInt32.self, at: &position, start: start)))
        case 0xcb: return .double(Double(bitPattern: try fixed(UInt64.self, at: &position, start: start)))
        case 0xcc: return .uint(UInt64(try fixed(UInt8.self, at: &position, start: start)))
        case 0xcd: return .uint(UInt64(try fixed(UInt16.self, at: &position, start: start)))
        case 0xce: return .uint(UInt64(try fixed(UInt32.self, at: &position, start: start)))
        case 0xcf: return .uint(try fixed(UInt64.self, at: &position, start: start))
        case 0xd0: return .int(Int64(Int8(bitPattern: try fixed(UInt8.self, at: &position, start: start))))
        case 0xd1: return .int(Int64(Int16(bitPattern: try fixed(UInt16.self, at: &position, start: start))))
        case 0xd2: return .int(Int64(Int32(bitPattern: try fixed(UInt32.self, at: &position, start: start))))
        case 0xd3: return .int(Int64(bitPattern: try fixed(UInt64.self, at: &position, start: start)))
        case 0xd4...0xd8:
            // fixext 1, 2, 4, 8, 16
            return try extensionHeader(count: 1 << Int(format - 0xd4), at: &position, start: start)
        case 0xd9...0xdb:
            let count = try length(format - 0xd9, at: &position, start: start)
            return try string(count: count, at: position, start: start)
        case 0xdc, 0xdd:
            let count = try length(format - 0xdc + 1, at: &position, start: start)
            return try array(count: count, at: position, start: start)
        case 0xde, 0xdf:
            let count = try length(format - 0xde + 1, at: &position, start: start)
            return try map(count: count, at: position, start: start)
        case 0xe0...0xff: return .int(Int64(Int8(bitPattern: format)))
        default:
            throw error(.invalidFormat, "format byte 0x\(String(format, radix: 16)) is never used", at: start)
        }
    }

    /// A big-endian field of the header that starts at `start`.
    @inline(__always)
    private func fixed<T: FixedWidthInteger>(_: T.Type, at position: inout Int, start: Int) throws(MessagePackError)
        -> T
    {
        let size = T.bitWidth / 8
        guard bytes.endIndex - position >= size else {
            throw error(.truncated, "the input ends inside a value's header", at: start)
        }
        let value = bytes.bigEndian(T.self, at: position)
        position += size
        return value
    }

    /// A length field: `sizeCode` 0, 1, 2 for 8, 16, 32 bits.
    @inline(__always)
    private func length(_ sizeCode: UInt8, at position: inout Int, start: Int) throws(MessagePackError) -> Int {
        switch sizeCode {
        case 0: Int(try fixed(UInt8.self, at: &position, start: start))
        case 1: Int(try fixed(UInt16.self, at: &position, start: start))
        default: Int(try fixed(UInt32.self, at: &position, start: start))
        }
    }

    private func string(count: Int, at position: Int, start: Int) throws(MessagePackError) -> Header {
        try check(count, limit: limits.maxStringBytes, "maxStringBytes", "string of", "bytes", start: start)
        try checkRemaining(count, from: position, "string of \(count) bytes", start: start)
        return .string(count: count)
    }

    private func binary(count: Int, at position: Int, start: Int) throws(MessagePackError) -> Header {
        try check(count, limit: limits.maxBinaryBytes, "maxBinaryBytes", "binary value of", "bytes", start: start)
        try checkRemaining(count, from: position, "binary value of \(count) bytes", start: start)
        return .binary(count: count)
    }

    /// Reads the type byte that follows an extension's length, then checks the length.
    private func extensionHeader(count: Int, at position: inout Int, start: Int) throws(MessagePackError) -> Header {
        let type = Int8(bitPattern: try fixed(UInt8.self, at: &position, start: start))
        try check(count, limit: limits.maxExtensionBytes, "maxExtensionBytes", "extension of", "bytes", start: start)
        try checkRemaining(count, from: position, "extension of \(count) bytes", start: start)
        return .extension(type: type, count: count)
    }

    private func array(count: Int, at position: Int, start: Int) throws(MessagePackError) -> Header {
        try check(count, limit: limits.maxCollectionCount, "maxCollectionCount", "array of", "elements", start: start)
        try checkRemaining(count, from: position, "array of \(count) elements", start: start)
        return .array(count: count)
    }

    private func map(count: Int, at position: Int, start: Int) throws(MessagePackError) -> Header {
        try check(count, limit: limits.maxCollectionCount, "maxCollectionCount", "map of", "entries", start: start)
        // A key and a value take at least one byte each.
        try checkRemaining(2 * count, from: position, "map of \(count) entries", start: start)
        return .map(count: count)
    }

    private func check(
        _ count: Int, limit: Int, _ limitName: String, _ what: String, _ unit: String, start: Int
    ) throws(MessagePackError) {
        guard count <= limit else {
            throw error(.limitExceeded, "\(what) \(count) \(unit) exceeds \(limitName) (\(limit))", at: start)
        }
    }

    private func checkRemaining(_ count: Int, from position: Int, _ what: @autoclosure () -> String, start: Int)
        throws(MessagePackError)
    {
        let remaining = bytes.endIndex - position
        guard count <= remaining else {
            throw error(.truncated, "\(what()) but only \(remaining) bytes are left", at: start)
        }
    }
}
