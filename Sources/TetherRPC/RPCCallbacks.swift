import Synchronization
import TetherMux

/// What crosses the wire in place of an interface argument (a callback): the name under which
/// the caller serves the object, for the duration of the call, on the same session.
///
/// The callee makes a client of it with ``RPCIncomingCall/channel(to:)`` and calls it like any
/// remote service: its calls are streams the callee opens on the session, served by the
/// caller's ``RPCServer``. Generated code does both for a parameter of type `any P` where `P` is
/// a `@PluginInterface` protocol.
public struct RPCCallbackReference: Codable, Sendable, Hashable {
    /// The service name the caller registered the object under (`tether.callback.N`).
    public let service: String

    public init(service: String) {
        self.service = service
    }
}

extension RPCChannel {
    /// Serves `service` to the peer while `body` runs, under a name of its own, and passes `body`
    /// the reference to send in the call. When `body` returns or throws (or its task is
    /// cancelled), the service is unregistered: later calls to it fail with
    /// ``RPCError/Code-swift.struct/callbackReleased``; calls already running finish.
    ///
    /// - Throws: ``RPCError/Code-swift.struct/callbacksUnavailable`` when the channel has no
    ///   ``callbackServer`` (nothing serves the peer's calls on this side), or what `body` throws.
    public nonisolated(nonsending) func withCallback<Service: RPCService, Result>(
        _ service: Service, _ body: nonisolated(nonsending) (RPCCallbackReference) async throws -> Result
    ) async throws -> Result {
        guard let server = callbackServer else {
            throw RPCError(
                .callbacksUnavailable,
                "no server answers the peer's calls on this side of the session, so \(Service.interfaceName) cannot be passed"
            )
        }
        let name = server.registerCallback(service)
        defer { server.unregister(name) }
        return try await body(RPCCallbackReference(service: name))
    }
}

extension RPCIncomingCall {
    /// A channel to the callback `reference` the caller passed: its calls go back to the caller
    /// over the call's session, each within ``RPCConfiguration/callbackTimeout`` of this server's
    /// configuration, and it can pass callbacks of its own (served by this server).
    public func channel(to reference: RPCCallbackReference) -> RPCChannel {
        RPCChannel(
            session: stream.session, service: reference.service, configuration: exchange.server.configuration,
            servingServer: exchange.server
        )
        .withTimeout(exchange.server.configuration.callbackTimeout)
    }
}

extension RPCServer {
    /// The prefix of the names callbacks are registered under.
    static let callbackPrefix = "tether.callback."
}
