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
        let admitted = state.withLock { state in
            guard !state.shuttingDown else { return false }
            state.inFlight += 1
            return true
        }
        guard admitted else { throw PluginError(.hostShutDown, "the plugin host is shutting down") }
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
        let clients = state.withLock { state -> [PluginClient]? in
            guard !state.shuttingDown else { return nil }
            state.shuttingDown = true
            state.inFlight += 1
            defer { state.clients.removeAll() }
            return Array(state.clients.values)
        }
        guard let clients else {
            await stopped.wait()
            return
        }
        logger.debug("stopping plugins", metadata: ["plugin.count": "\(clients.count)"])
        await withTaskGroup(of: Void.self) { group in
            for client in clients {
                group.addTask(executorPreference: reactor) { await client.stop() }
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

    private func leave() {
        let idle = state.withLock { state in
            state.inFlight -= 1
            return state.shuttingDown && state.inFlight == 0
        }
        if idle { stopped.open() }
    }
}
