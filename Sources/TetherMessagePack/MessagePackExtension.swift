/// An application-defined MessagePack extension value: a type code and opaque bytes.
///
/// ``MessagePackEncoder`` writes it as `fixext`/`ext` with this type, and ``MessagePackDecoder``
/// reads any extension into it (including the timestamp, type -1, as its raw payload), so a
/// `Codable` property of this type round-trips extension values it does not interpret. Other
/// coders see a keyed value `{type, data}`.
public struct MessagePackExtension: Hashable, Sendable, Codable {
    /// The extension type; 0...127 are for applications, negative values are reserved by the spec.
    public var type: Int8
    public var data: [UInt8]

    public init(type: Int8, data: [UInt8]) {
        self.type = type
        self.data = data
    }
}
