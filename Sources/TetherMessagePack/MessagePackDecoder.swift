/// Decodes `Decodable` values from MessagePack.
///
/// Accepts what ``MessagePackEncoder`` writes and what other MessagePack implementations write
/// for the same types:
///
/// - integers of any format into any integer type the value fits, else
///   ``MessagePackError/Code-swift.struct/integerOverflow``;
/// - `Double` and `Float` from float64, float32, or an integer they hold exactly (a float64 into
///   `Float` is rounded, unless it lies beyond `Float`'s range);
/// - `String` from str (UTF-8 is validated); `Data` from bin; `Date` and ``MessagePackTimestamp``
///   from the timestamp extension in any of its three forms; ``MessagePackExtension`` from any
///   extension; ``MessagePackValue`` from anything;
/// - keyed containers from maps whose keys are strings, or integers (matched by their decimal
///   text, so `[Int: V]` reads maps with integer keys). Keys may come in any order, unknown keys
///   are ignored, a repeated key is ``MessagePackError/Code-swift.struct/duplicateKey``.
///
/// Hostile input is bounded by ``MessagePackLimits``: nothing is allocated for a length or count
/// before it is checked against the bytes left and the limits, and nesting (which is recursion)
/// stops at ``MessagePackLimits/maxDepth``. Every failure is a ``MessagePackError`` (an
/// `init(from:)` may add errors of its own).
public struct MessagePackDecoder: Sendable {
    public var limits: MessagePackLimits
    /// Handed to every `Decodable` as `decoder.userInfo`.
    public var userInfo: [CodingUserInfoKey: any Sendable] = [:]

    public init(limits: MessagePackLimits = MessagePackLimits()) {
        self.limits = limits
    }

    /// Decodes the single value `bytes` holds; bytes after it are
    /// ``MessagePackError/Code-swift.struct/trailingBytes``.
    public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try decode(type, from: bytes[...])
    }

    /// Decodes the single value `bytes` holds; error offsets count from `bytes.startIndex`.
    public func decode<T: Decodable>(_ type: T.Type, from bytes: ArraySlice<UInt8>) throws -> T {
        var reader = MessagePackReader(bytes: bytes, limits: limits)
        let value = try decode(type, from: &reader)
        guard reader.isAtEnd else {
            throw MessagePackError(
                .trailingBytes, "\(reader.remainingCount) bytes follow the value", offset: reader.offset)
        }
        return value
    }

    /// Decodes the value at the reader's position and moves the reader past it. The decoder's
    /// ``limits`` apply, not the reader's.
    public func decode<T: Decodable>(_ type: T.Type, from reader: inout MessagePackReader) throws -> T {
        let context = DecodingContext(bytes: reader.bytes, limits: limits, userInfo: userInfo, rootIndex: reader.index)
        let (value, end) = try context.decodeValue(type, at: reader.index, parent: .root, component: .none)
        reader.index = try end ?? context.rootEnd ?? context.end(ofValueAt: reader.index, depth: 0)
        return value
    }
}
