/// The type of the next value in the input, as its format byte tells (``MessagePackReader/peekType()``).
public enum MessagePackType: Hashable, Sendable {
    case `nil`
    case bool
    /// A signed format: negative fixint, int8, int16, int32 or int64 (the value may still be ≥ 0).
    case int
    /// An unsigned format: positive fixint, uint8, uint16, uint32 or uint64.
    case uint
    /// float32.
    case float
    /// float64.
    case double
    case string
    case binary
    case array
    case map
    /// Any extension, including the timestamp (type -1).
    case `extension`
}
