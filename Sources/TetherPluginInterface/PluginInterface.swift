@_exported import TetherRPC

/// Makes a protocol a plugin interface: generates `<Name>Client`, which conforms to the protocol
/// and turns each call into an RPC over a ``RPCChannel``, and `<Name>Service`, which serves any
/// implementation of the protocol to remote callers.
///
/// Every requirement must be an `async throws` method whose arguments and result are `Codable`
/// (or ``RPCStream`` of a `Codable` element for streaming calls, or ``ByteStream`` for raw bytes). The method's identity on the
/// wire is `Interface.method(label:label:)`, so renaming a parameter's internal name keeps
/// compatibility and changing a label does not.
///
/// ```swift
/// @PluginInterface
/// protocol KeyValue {
///     func get(_ key: String) async throws -> Data?
///     func watch(prefix: String) async throws -> RPCStream<Change>
/// }
/// ```
@attached(peer, names: suffixed(Client), suffixed(Service))
public macro PluginInterface() = #externalMacro(module: "TetherMacros", type: "PluginInterfaceMacro")
