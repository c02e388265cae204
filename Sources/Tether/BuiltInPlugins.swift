import TetherMux
import TetherRPC

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A plugin compiled into the host's own binary ("plugin flattening"): its services, per
/// application protocol version, as ``PluginServer/serve(handshake:services:instances:rpc:mux:environment:)``
/// takes them.
///
/// The host runs it as it runs any plugin, in a process of its own: it starts
/// ``PluginClientConfiguration/builtIn(_:handshake:)``, which re-executes the running binary
/// (`/proc/self/exe`) with ``PluginServer/builtInPluginVariable`` naming the plugin; the binary's
/// `main` calls ``PluginServer/serveBuiltIn(_:handshake:rpc:mux:environment:)`` first, which
/// serves that plugin. One binary ships the host and its plugins, and a plugin that crashes still
/// takes only its own process down.
public struct BuiltInPlugin: Sendable {
    /// Per application protocol version, the services by the name hosts dispense them under.
    public var services: [Int: [String: any RPCService]]
    /// Per version, factories of the services each ``PluginClient/dispenseInstance(_:name:)`` gets
    /// one of.
    public var instances: [Int: [String: @Sendable () -> any RPCService]]

    public init(
        services: [Int: [String: any RPCService]], instances: [Int: [String: @Sendable () -> any RPCService]] = [:]
    ) {
        precondition(!services.isEmpty || !instances.isEmpty, "a plugin serves at least one version")
        self.services = services
        self.instances = instances
    }
}

extension PluginServer {
    /// The environment variable that makes a binary serve one of its built-in plugins: the
    /// plugin's name. A host sets it (with the magic cookie) when it starts
    /// ``PluginClientConfiguration/builtIn(_:handshake:)``.
    public static let builtInPluginVariable = "TETHER_BUILTIN_PLUGIN"

    /// Serves the built-in plugin this process was started as, if it was: call it first in the
    /// `main` of a binary that has built-in plugins, before parsing arguments.
    ///
    /// ```swift
    /// if let status = await PluginServer.serveBuiltIn(["memory": memoryPlugin], handshake: handshake) {
    ///     exit(status)
    /// }
    /// // … the host's own main …
    /// ```
    ///
    /// The cookie is checked as ``serve(handshake:services:instances:rpc:mux:environment:)``
    /// checks it, so a person who sets the variable by hand gets the same explanation as for any
    /// plugin.
    ///
    /// - Returns: nil when ``builtInPluginVariable`` is not set (the binary runs as itself);
    ///   otherwise the exit status for `main`: what `serve` returns, or 1 after an explanation
    ///   on stderr when the binary has no built-in plugin of that name (the host's start then
    ///   fails with `exitedBeforeHandshake` quoting it).
    public static func serveBuiltIn(
        _ plugins: [String: BuiltInPlugin],
        handshake: HandshakeConfiguration,
        rpc: RPCConfiguration = RPCConfiguration(),
        mux: MuxConfiguration = MuxConfiguration(),
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async -> Int32? {
        guard let name = environment[builtInPluginVariable] else { return nil }
        guard let plugin = plugins[name] else {
            let known = plugins.keys.sorted().joined(separator: ", ")
            reportToStandardError(
                "plugin: this binary has no built-in plugin named \"\(name)\" (it has: \(known.isEmpty ? "none" : known))"
            )
            return 1
        }
        return await serve(
            handshake: handshake, services: plugin.services, instances: plugin.instances, rpc: rpc, mux: mux,
            environment: environment)
    }
}

extension PluginClientConfiguration {
    /// A built-in plugin of this binary (see ``BuiltInPlugin``): the running executable
    /// (`/proc/self/exe`, the very file this process runs even if it has since been replaced or
    /// removed on disk) started with ``PluginServer/builtInPluginVariable`` set to `name`.
    /// Everything else is as for an external plugin: the same start, calls, logs, stop.
    public static func builtIn(_ name: String, handshake: HandshakeConfiguration) -> PluginClientConfiguration {
        var configuration = PluginClientConfiguration(executable: "/proc/self/exe", handshake: handshake)
        configuration.environment[PluginServer.builtInPluginVariable] = name
        configuration.name = name
        return configuration
    }
}
