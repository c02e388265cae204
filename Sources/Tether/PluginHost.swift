import Logging
import ServiceLifecycle
import Synchronization
import TetherReactor

/// Owns the plugins a host application runs on one reactor and stops them all together.
///
/// A swift-service-lifecycle `Service`: in a `ServiceGroup`, ``run()`` waits for the group's
/// graceful shutdown (or for cancellation), then stops every plugin it started with ``kill()``'s
/// escalation, concurrently, and returns once each is reaped and its socket directory removed.
/// Outside a service group call ``shutdown()`` yourself.
public final class PluginHost: Service, Sendable {
    public let reactor: Reactor
    private let logger: Logger
    private struct State {
        var clients: [ObjectIdentifier: PluginClient] = [:]
        var shuttingDown = false
    }
    private let state = Mutex(State())
    private let finished = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    /// - Parameter logger: where the host reports shutting down; each plugin logs through its own
    ///   configuration's logger.
    public init(reactor: Reactor, logger: Logger = Logger(label: "tether.host", factory: { _ in SwiftLogNoOpLogHandler() })) {
        self.reactor = reactor
        self.logger = logger
    }

    /// Starts a plugin (``PluginClient/start(_:on:)``) that this host will stop.
    ///
    /// - Throws: what `start` throws; ``PluginError/Code-swift.struct/hostShutDown`` once
    ///   ``shutdown()`` has begun (a plugin that finishes starting after that is killed at once).
    public func start(_ configuration: PluginClientConfiguration) async throws -> PluginClient {
        try checkRunning()
        let client = try await PluginClient.start(configuration, on: reactor)
        let accepted = state.withLock { state in
            guard !state.shuttingDown else { return false }
            state.clients[ObjectIdentifier(client)] = client
            return true
        }
        guard accepted else {
            await client.kill()
            throw PluginError(.hostShutDown, "the plugin host is shutting down")
        }
        return client
    }

    /// The plugins started and not yet stopped (some may have exited on their own).
    public var clients: [PluginClient] { state.withLock { Array($0.clients.values) } }

    /// Stops one plugin (``PluginClient/kill()``) and forgets it.
    public func stop(_ client: PluginClient) async {
        _ = state.withLock { $0.clients.removeValue(forKey: ObjectIdentifier(client)) }
        await client.kill()
    }

    /// Stops every plugin, all at once, and returns when they are all reaped. Later ``start(_:)``
    /// calls fail; calling it again waits for the first call to finish.
    public func shutdown() async {
        let clients = state.withLock { state -> [PluginClient]? in
            guard !state.shuttingDown else { return nil }
            state.shuttingDown = true
            defer { state.clients.removeAll() }
            return Array(state.clients.values)
        }
        guard let clients else {
            await waitUntilFinished()
            return
        }
        logger.debug("stopping plugins", metadata: ["plugin.count": "\(clients.count)"])
        await withTaskGroup(of: Void.self) { group in
            for client in clients {
                group.addTask(executorPreference: reactor) { await client.kill() }
            }
        }
        let waiters = finished.withLock { finished in
            finished.done = true
            defer { finished.waiters.removeAll() }
            return finished.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Runs until the service group shuts down gracefully or the task is cancelled, then stops
    /// every plugin.
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }

    private func checkRunning() throws(PluginError) {
        if state.withLock({ $0.shuttingDown }) {
            throw PluginError(.hostShutDown, "the plugin host is shutting down")
        }
    }

    private func waitUntilFinished() async {
        await withCheckedContinuation { continuation in
            let done = finished.withLock { finished in
                if !finished.done { finished.waiters.append(continuation) }
                return finished.done
            }
            if done { continuation.resume() }
        }
    }
}
