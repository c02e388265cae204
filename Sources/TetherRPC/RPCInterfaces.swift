/// A generated client of a plugin interface: each method is a call over ``channel``.
/// `@PluginInterface` generates the conformance; write one by hand only for tests or tools.
public protocol RPCClientStub: Sendable {
    init(channel: RPCChannel)
    var channel: RPCChannel { get }
}

/// A server-side dispatcher for one plugin interface: decodes a call's arguments, runs the
/// implementation and responds. `@PluginInterface` generates one per interface (`<Name>Service`).
public protocol RPCService: Sendable {
    /// The protocol's name: the first part of every method identifier it serves.
    static var interfaceName: String { get }
    /// Every method identifier (`Interface.method(label:)`) the service answers.
    static var methodNames: [String] { get }
    /// Serves one call: must respond (``RPCIncomingCall/respond(_:)`` or a variant) or throw.
    func handle(_ call: RPCIncomingCall) async throws
}
