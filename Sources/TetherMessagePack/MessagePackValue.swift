/// Any MessagePack value, for payloads whose shape is not known at compile time.
///
/// ``MessagePackReader/readValue()`` normalizes integers: every integer that fits `Int64` is
/// ``int(_:)`` whatever its wire format, only values above `Int64.max` are ``uint(_:)``. The
/// writer picks the smallest format either way, so `.int(5)` and `.uint(5)` encode alike.
/// Extensions of type -1 are read as ``timestamp(_:)``.
///
/// As a `Codable` property it is written and read as-is by ``MessagePackEncoder`` and
/// ``MessagePackDecoder``.
public enum MessagePackValue: Hashable, Sendable {
    case `nil`
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    /// float32.
    case float(Float)
    /// float64.
    case double(Double)
    case string(String)
    case binary([UInt8])
    case array([MessagePackValue])
    /// Key-value pairs in wire order. Keys may be any value; duplicates are not merged.
    case map([MessagePackPair])
    case `extension`(type: Int8, data: [UInt8])
    case timestamp(MessagePackTimestamp)
}

/// One entry of a ``MessagePackValue/map(_:)``.
public struct MessagePackPair: Hashable, Sendable {
    public var key: MessagePackValue
    public var value: MessagePackValue

    public init(_ key: MessagePackValue, _ value: MessagePackValue) {
        self.key = key
        self.value = value
    }
}

extension MessagePackValue {
    /// The value of the first entry whose key is the string `key`, if this is a map.
    public subscript(key: String) -> MessagePackValue? {
        guard case .map(let pairs) = self else { return nil }
        return pairs.first { $0.key == .string(key) }?.value
    }

    /// The encoded bytes of this value.
    public var encoded: [UInt8] {
        var writer = MessagePackWriter()
        writer.write(self)
        return writer.bytes
    }
}

extension MessagePackValue: Codable {
    /// Only ``MessagePackDecoder`` can decode a dynamic value: other decoders cannot say what
    /// type the next value has.
    public init(from decoder: any Decoder) throws {
        throw DecodingError.typeMismatch(
            MessagePackValue.self,
            .init(
                codingPath: decoder.codingPath,
                debugDescription: "MessagePackValue is decoded by MessagePackDecoder only"))
    }

    /// ``MessagePackEncoder`` writes the value as-is. Other encoders get the closest Codable
    /// shape: maps need string keys, binary becomes an array of bytes, extensions and timestamps
    /// their keyed form.
    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .map(let pairs):
            var container = encoder.container(keyedBy: StringKey.self)
            for pair in pairs {
                guard case .string(let key) = pair.key else {
                    throw EncodingError.invalidValue(
                        self,
                        .init(codingPath: encoder.codingPath, debugDescription: "map key \(pair.key) is not a string"))
                }
                try container.encode(pair.value, forKey: StringKey(key))
            }
        case .array(let elements):
            var container = encoder.unkeyedContainer()
            for element in elements { try container.encode(element) }
        default:
            var container = encoder.singleValueContainer()
            switch self {
            case .nil: try container.encodeNil()
            case .bool(let bool): try container.encode(bool)
            case .int(let int): try container.encode(int)
            case .uint(let uint): try container.encode(uint)
            case .float(let float): try container.encode(float)
            case .double(let double): try container.encode(double)
            case .string(let string): try container.encode(string)
            case .binary(let binary): try container.encode(binary)
            case .extension(let type, let data): try container.encode(MessagePackExtension(type: type, data: data))
            case .timestamp(let timestamp): try container.encode(timestamp)
            case .map, .array: preconditionFailure("handled above")
            }
        }
    }
}

/// A coding key that is any string, for maps whose keys are data.
struct StringKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }

    init(_ string: String) {
        stringValue = string
    }

    init(stringValue: String) {
        self.stringValue = stringValue
    }

    init?(intValue: Int) {
        return nil
    }
}
