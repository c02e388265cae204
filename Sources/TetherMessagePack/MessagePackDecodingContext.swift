#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The input and settings of one ``MessagePackDecoder`` call, shared by its decoders and
/// containers (they are values; this is the one object per call). Decoding is random access:
/// a decoder or container holds the index of its value in `bytes`.
final class DecodingContext {
    let bytes: ArraySlice<UInt8>
    let limits: MessagePackLimits
    let userInfo: [CodingUserInfoKey: Any]
    /// Where the value being decoded starts, and where it ends once a map that is the whole
    /// value has been scanned (otherwise the decoder skips the value to find its end).
    let rootIndex: Int
    var rootEnd: Int?

    init(
        bytes: ArraySlice<UInt8>, limits: MessagePackLimits, userInfo: [CodingUserInfoKey: any Sendable], rootIndex: Int
    ) {
        self.bytes = bytes
        self.limits = limits
        self.userInfo = userInfo.isEmpty ? [:] : userInfo.mapValues { $0 as Any }
        self.rootIndex = rootIndex
    }

    func reader(at index: Int) -> MessagePackReader {
        MessagePackReader(bytes: bytes, limits: limits, index: index)
    }

    func isNil(at index: Int) -> Bool {
        index < bytes.endIndex && bytes[index] == MessagePackFormat.nil
    }

    /// The index after the value at `index`, which is at nesting depth `depth`.
    func end(ofValueAt index: Int, depth: Int) throws(MessagePackError) -> Int {
        var position = index
        try reader(at: index).skipValue(at: &position, depth: depth)
        return position
    }

    /// Decodes the value at `index`, which sits at `component` in the container at `parent`.
    /// Returns the index after the value when it was read directly; values decoded through
    /// their own `init(from:)` do not say where they end.
    func decodeValue<T: Decodable>(
        _: T.Type, at index: Int, parent: CodingPath, component: CodingPathComponent
    ) throws -> (value: T, end: Int?) {
        var reader = reader(at: index)
        do {
            if let value = try decodeDirectly(T.self, from: &reader, depth: parent.depth(of: component)) {
                return (value, reader.index)
            }
        } catch {
            // A nil where a value is required is Codable's valueNotFound, not a type mismatch.
            let found =
                error.code == .typeMismatch && isNil(at: index)
                ? reader.error(.valueNotFound, "expected \(T.self), found nil", at: index) : error
            throw found.at(parent.appending(component).keys.dottedString)
        }
        return (try T(from: ValueDecoder(context: self, index: index, path: parent.appending(component))), nil)
    }

    /// Reads the types the decoder knows without asking them to decode themselves (see
    /// `EncodingState.encodeDirectly`); nil for any other type. Metatype comparisons, most
    /// common first, folded away where the compiler specializes for T.
    private func decodeDirectly<T: Decodable>(
        _: T.Type, from reader: inout MessagePackReader, depth: Int
    ) throws(MessagePackError) -> T? {
        if T.self == String.self { return (try reader.readString() as! T) }
        if T.self == Int.self { return (try reader.readInteger(Int.self) as! T) }
        if T.self == Double.self { return (try reader.readDouble() as! T) }
        if T.self == Bool.self { return (try reader.readBool() as! T) }
        if T.self == Data.self { return (Data(try reader.readBinary()) as! T) }
        if T.self == Date.self { return (try reader.readTimestamp().date as! T) }
        if T.self == Int64.self { return (try reader.readInteger(Int64.self) as! T) }
        if T.self == UInt64.self { return (try reader.readInteger(UInt64.self) as! T) }
        if T.self == Int32.self { return (try reader.readInteger(Int32.self) as! T) }
        if T.self == UInt32.self { return (try reader.readInteger(UInt32.self) as! T) }
        if T.self == UInt.self { return (try reader.readInteger(UInt.self) as! T) }
        if T.self == UInt8.self { return (try reader.readInteger(UInt8.self) as! T) }
        if T.self == Int16.self { return (try reader.readInteger(Int16.self) as! T) }
        if T.self == UInt16.self { return (try reader.readInteger(UInt16.self) as! T) }
        if T.self == Int8.self { return (try reader.readInteger(Int8.self) as! T) }
        if T.self == Float.self { return (try reader.readFloat() as! T) }
        if T.self == MessagePackValue.self {
            var position = reader.index
            let value = try reader.readValue(at: &position, depth: depth)
            reader.index = position
            return (value as! T)
        }
        if T.self == MessagePackTimestamp.self { return (try reader.readTimestamp() as! T) }
        if T.self == MessagePackExtension.self {
            let (type, data) = try reader.readExtension()
            return (MessagePackExtension(type: type, data: Array(data)) as! T)
        }
        return nil
    }
}
