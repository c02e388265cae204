/// Encodes `Encodable` values as MessagePack, the format of Tether's RPC payloads.
///
/// | Swift | MessagePack (smallest format that holds the value) |
/// |---|---|
/// | `Int`, `Int8`…`Int64`, `UInt`…`UInt64` | positive fixint or uint8…uint64 when ≥ 0, else negative fixint or int8…int64 |
/// | `Float` / `Double` | float32 / float64 |
/// | `Bool`, `nil` | true/false, nil |
/// | `String` | fixstr, str8, str16, str32 (UTF-8) |
/// | `Data` | bin8, bin16, bin32 |
/// | `Date`, ``MessagePackTimestamp`` | the timestamp extension (-1), 32-, 64- or 96-bit form |
/// | ``MessagePackExtension`` | fixext1…16, ext8, ext16, ext32 |
/// | ``MessagePackValue`` | itself |
/// | unkeyed containers (arrays, sets) | fixarray, array16, array32 |
/// | keyed containers (structs, dictionaries) | fixmap, map16, map32 keyed by `CodingKey.stringValue`, in encoding order |
///
/// These are the choices of msgpack-python's packer with `use_bin_type=True`, so both produce the
/// same bytes for the same value. `[UInt8]` is an array of integers like any array; use `Data`
/// for binary. A `nil` optional property is left out of its map (synthesized `Codable` uses
/// `encodeIfPresent`); an `Encodable` that encodes nothing at all is written as nil.
///
/// The encoder writes straight into one byte array: map and array headers are patched once the
/// container is complete. So containers are filled in order: once a container outside a nested
/// one is written to again, the nested one is finished (``MessagePackError/Code-swift.struct/invalidContainerUse``
/// if it is used after that). Synthesized `Codable` always works this way.
public struct MessagePackEncoder: Sendable {
    /// Handed to every `Encodable` as `encoder.userInfo`.
    public var userInfo: [CodingUserInfoKey: any Sendable] = [:]

    public init() {}

    /// The encoding of `value`.
    public func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(128)
        try encode(value, appendingTo: &bytes)
        return bytes
    }

    /// Appends the encoding of `value` to `bytes`. If encoding fails, `bytes` is left as it was.
    public func encode<T: Encodable>(_ value: T, appendingTo bytes: inout [UInt8]) throws {
        let originalCount = bytes.count
        // The state owns the array while encoding so appends do not copy it.
        let state = EncodingState(bytes: bytes, userInfo: userInfo)
        bytes = []
        defer {
            bytes = state.takeBytes()
        }
        do {
            try state.encodeRoot(value)
        } catch {
            state.truncate(to: originalCount)
            throw error
        }
    }
}
