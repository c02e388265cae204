import Logging
import ServiceLifecycle
import Synchronization
import TetherReactor

/// Owns the plugins a host application runs on one reactor and stops them all together.
///
/// A swift-service-lifecycle `Service`: in a `ServiceGroup`, ``run()`` waits for the group's
/// graceful shutdown (or for cancellation), then stops every plugin it started with ``PluginClient/stop()``'s
/// escalation, concurrently, and returns once each is reaped and its socket directory removed.
/// Outside a service group call ``shutdown()`` yourself.
public final class PluginHost: Service, Sendable {
    public let reactor: Reactor
    private let logger: Logger
    private struct State {
        var clients: [ObjectIdentifier: PluginClient] = [:]
        var supervised: [ObjectIdentifier: SupervisedPlugin] = [:]
        var shuttingDown = false
        /// Starts and stops under way; shutdown waits for them.
        var inFlight = 0
    }
    private let state = Mutex(State())
    /// Opens when shutdown has stopped everything, starts and stops under way included.
    private let stopped = Latch()

    /// - Parameter logger: where the host reports shutting down; each plugin logs through its own
    ///   configuration's logger.
    public init(
        reactor: Reactor, logger: Logger = Logger(label: "tether.host", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.reactor = reactor
        self.logger = logger
    }

    /// Starts a plugin (``PluginClient/start(_:on:)``) that this host will stop; or, when
    /// `TETHER_REATTACH_PLUGINS` names it, reattaches to it instead
    /// (``PluginClient/startOrReattach(_:on:environment:)``: a plugin a developer runs in a
    /// debugger, whose ``PluginClient/stop()`` at shutdown only detaches).
    ///
    /// - Throws: what `start` throws; ``PluginError/Code-swift.struct/hostShutDown`` once
    ///   ``shutdown()`` has begun (a plugin that finishes starting after that is stopped at once,
    ///   and shutdown waits for it).
    public func start(_ configuration: PluginClientConfiguration) async throws -> PluginClient {
        guard admit() else { throw PluginError(.hostShutDown, "the plugin host is shutting down") }
        defer { leave() }
        let client = try await PluginClient.startOrReattach(configuration, on: reactor)
        let accepted = state.withLock { state in
            guard !state.shuttingDown else { return false }
            state.clients[ObjectIdentifier(client)] = client
            return true
        }
        guard accepted else {
            await client.stop()
            throw PluginError(.hostShutDown, "the plugin host is shutting down")
        }
        return client
    }

    /// Starts a plugin that is restarted when it exits on its own, as `policy` says
    /// (``SupervisedPlugin/start(_:policy:on:)``), and that this host will stop.
    ///
    /// - Throws: what ``PluginClient/start(_:on:)`` throws; `hostShutDown` as ``start(_:)``.
    public func startSupervised(_ configuration: PluginClientConfiguration, policy: RestartPolicy) async throws
        -> SupervisedPlugin
    {
        guard admit() else { throw PluginError(.hostShutDown, "the plugin host is shutting down") }
        defer { leave() }
        let plugin = try await SupervisedPlugin.start(configuration, policy: policy, on: reactor)
        let accepted = state.withLock { state in
            guard !state.shuttingDown else { return false }
            state.supervised[ObjectIdentifier(plugin)] = plugin
            return true
        }
        guard accepted else {
            await plugin.stop()
            throw PluginError(.hostShutDown, "the plugin host is shutting down")
        }
        return plugin
    }

    /// Stops one supervised plugin (``SupervisedPlugin/stop()``) and forgets it.
    public func stop(_ plugin: SupervisedPlugin) async {
        state.withLock { state in
            state.supervised.removeValue(forKey: ObjectIdentifier(plugin))
            state.inFlight += 1
        }
        defer { leave() }
        await plugin.stop()
    }

    /// The plugins started and not yet stopped (some may have exited on their own).
    public var clients: [PluginClient] { state.withLock { Array($0.clients.values) } }

    /// Stops one plugin (``PluginClient/stop()``) and forgets it; ``shutdown()`` waits for it.
    public func stop(_ client: PluginClient) async {
        state.withLock { state in
            state.clients.removeValue(forKey: ObjectIdentifier(client))
            state.inFlight += 1
        }
        defer { leave() }
        await client.stop()
    }

    /// Stops every plugin, all at once with ``PluginClient/stop()``'s escalation, waits for
    /// starts and stops under way, and returns when every plugin is reaped — even when the
    /// calling task is cancelled (see ``PluginClient/stop()``). Later ``start(_:)``
    /// calls fail; calling it again waits for the first call to finish.
    public func shutdown() async {
        let plugins = state.withLock { state -> (clients: [PluginClient], supervised: [SupervisedPlugin])? in
            guard !state.shuttingDown else { return nil }
            state.shuttingDown = true
            state.inFlight += 1
            defer {
                state.clients.removeAll()
                state.supervised.removeAll()
            }
            return (Array(state.clients.values), Array(state.supervised.values))
        }
        guard let plugins else {
            await stopped.wait()
            return
        }
        logger.debug(
            "stopping plugins", metadata: ["plugin.count": "\(plugins.clients.count + plugins.supervised.count)"])
        await withTaskGroup(of: Void.self) { group in
            for client in plugins.clients {
                group.addTask(executorPreference: reactor) { await client.stop() }
            }
            for plugin in plugins.supervised {
                group.addTask(executorPreference: reactor) { await plugin.stop() }
            }
        }
        leave()
        await stopped.wait()
    }

    /// Runs until the service group shuts down gracefully or the task is cancelled, then stops
    /// every plugin.
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Counts a start in, unless shutdown has begun.
    private func admit() -> Bool {
        state.withLock { state in
            guard !state.shuttingDown else { return false }
            state.inFlight += 1
            return true
        }
    }

    private func leave() {
        let idle = state.withLock { state in
            state.inFlight -= 1
            return state.shuttingDown && state.inFlight == 0
        }
        if idle { stopped.open() }
    }
}
