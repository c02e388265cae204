import TetherMessagePack

/// An error thrown by the remote implementation whose type this side does not know.
///
/// Carries the thrown type's name (`String(reflecting:)`, e.g. `"MyPlugin.StoreError"`), its
/// description, and, when the type is `Encodable`, its MessagePack encoding: ``decode(_:)`` turns
/// it back into the error if both sides share the type. Register such types in
/// ``RPCConfiguration/knownErrors`` to have them thrown directly instead.
public struct RemoteError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The remote error's type, module-qualified.
    public let typeName: String
    /// The remote error's description.
    public let message: String
    /// The error's MessagePack encoding, when its type is `Encodable`.
    public let payload: [UInt8]?

    public init(typeName: String, message: String, payload: [UInt8]?) {
        self.typeName = typeName
        self.message = message
        self.payload = payload
    }

    /// The remote error as `type`, if it was encoded and decodes as one.
    public func decode<E: Error & Decodable>(_ type: E.Type) -> E? {
        guard let payload else { return nil }
        return try? MessagePackDecoder().decode(E.self, from: payload)
    }

    public var description: String { "remote \(typeName): \(message)" }
}
