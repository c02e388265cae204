import Logging
import Synchronization
import TetherRPC
import TetherReactor

/// A plugin that is started again when it exits on its own, as its ``RestartPolicy`` says: with
/// exponential backoff and jitter, within a budget of restarts per window, after which the
/// supervisor gives up.
///
/// Calls in flight when the plugin exits fail with ``PluginError/Code-swift.struct/pluginExited``
/// (a call is not replayed: the plugin may have done part of it). Clients are bound to one plugin
/// process, so take one from ``dispense(_:name:)`` per unit of work: while the plugin is being
/// restarted, `dispense` waits for it or fails fast (``RestartPolicy/whileRestarting``); once the
/// supervisor has given up it throws `restartsExhausted`. Every exit, restart and give-up is
/// logged through the configuration's logger and counted (`tether_plugin_restarts`,
/// `tether_plugin_restart_giveups`).
///
/// Only exits the supervisor did not ask for are restarted, whatever their status: a plugin that
/// quits with status 0 is restarted too. ``stop()`` and ``kill()`` end the supervision and the
/// plugin; a supervised plugin released without either is stopped all the same (gracefully, as
/// by `stop()`, in its supervision task).
public final class SupervisedPlugin: Sendable {
    /// Where the supervised plugin stands.
    public enum State: Sendable {
        /// The plugin runs; this is its client.
        case running(PluginClient)
        /// The plugin exited on its own and is being started again; `restart` counts the restarts
        /// within the policy's window, this one included.
        case restarting(restart: Int)
        /// The budget is spent: the plugin stays down. The error is the one `dispense` throws.
        case gaveUp(PluginError)
        /// ``stop()`` or ``kill()`` was called.
        case stopped
    }

    private let supervisor: Supervisor

    /// The plugin's configuration, the same for every restart.
    public var configuration: PluginClientConfiguration { supervisor.configuration }
    public var policy: RestartPolicy { supervisor.policy }
    public var reactor: Reactor { supervisor.reactor }

    private init(supervisor: Supervisor) {
        self.supervisor = supervisor
    }

    /// A supervised plugin released without ``stop()`` or ``kill()`` is stopped as by `stop()`:
    /// its supervision task (which holds the supervisor, not this handle) ends and stops the
    /// plugin it holds.
    deinit {
        supervisor.beginEnding(.graceful)
    }

    /// Starts the plugin (``PluginClient/start(_:on:)``) and supervises it.
    ///
    /// The first start is not retried: its failure is thrown, as `PluginClient.start` throws it.
    public static func start(_ configuration: PluginClientConfiguration, policy: RestartPolicy, on reactor: Reactor)
        async throws -> SupervisedPlugin
    {
        try await start(configuration, policy: policy, on: reactor, beforeRestart: nil)
    }

    /// ``start(_:policy:on:)`` with a hook the supervisor awaits before each restart's start
    /// (after the backoff): for tests that need the plugin held down.
    static func start(
        _ configuration: PluginClientConfiguration, policy: RestartPolicy, on reactor: Reactor,
        beforeRestart: (@Sendable () async -> Void)?
    ) async throws -> SupervisedPlugin {
        _ = RestartSchedule(policy: policy)  // checks the policy before anything starts
        let first = try await PluginClient.start(configuration, on: reactor)
        let supervisor = Supervisor(
            configuration: configuration, policy: policy, reactor: reactor, first: first, beforeRestart: beforeRestart)
        supervisor.startSupervising(first)
        return SupervisedPlugin(supervisor: supervisor)
    }

    /// Where the plugin stands now.
    public var state: State { supervisor.state }

    /// How many times the plugin has been started again.
    public var restarts: Int { supervisor.restarts }

    /// How many ``client()`` calls are waiting for a restart now.
    var waitingClients: Int { supervisor.waitingClients }

    /// The running plugin's client; while it is being restarted, as the policy's
    /// ``RestartPolicy/whileRestarting`` says.
    ///
    /// - Throws: ``PluginError`` — `pluginRestarting` (failing fast, or not back within the
    ///   wait), `restartsExhausted` once the supervisor gave up, `pluginStopped` after ``stop()``.
    public func client() async throws -> PluginClient {
        try await supervisor.client()
    }

    /// A client of the service `name` of the running plugin (``PluginClient/dispense(_:name:)``),
    /// waiting for a restart as ``client()`` does.
    public func dispense<Client: RPCClientStub>(_ type: Client.Type, name: String) async throws -> Client {
        try await client().dispense(type, name: name)
    }

    /// Ends the supervision and stops the plugin gracefully (``PluginClient/stop()``); a restart
    /// under way is abandoned and its process reaped. Waiting clients fail with `pluginStopped`.
    /// Calling it again waits for the first call.
    public func stop() async {
        await supervisor.end(.graceful)
    }

    /// As ``stop()``, with ``PluginClient/kill()``: SIGKILL at once. It also cuts a `stop()`
    /// under way short.
    public func kill() async {
        await supervisor.end(.forced)
    }
}

/// What a ``SupervisedPlugin`` does: held by the supervision task, so that the handle the
/// application holds can be released (and its `deinit` end the supervision).
private final class Supervisor: Sendable {
    typealias State = SupervisedPlugin.State
    enum Stopping {
        case graceful, forced
    }

    let configuration: PluginClientConfiguration
    let policy: RestartPolicy
    let reactor: Reactor
    private let logger: Logger
    private let metrics: PluginMetrics?
    private let beforeRestart: (@Sendable () async -> Void)?

    private struct Inner {
        var state: State
        /// The client the supervision task holds (also while it stops it).
        var current: PluginClient?
        var stopping: Stopping?
        /// Restarts made since the start, successful ones.
        var restarts = 0
        /// Opened, and replaced, at every change of `state`.
        var changed = Latch()
        var supervision: Task<Void, Never>?
        /// `client()` calls waiting for a restart.
        var waitingClients = 0
    }
    private let inner: Mutex<Inner>
    /// Opens when the supervision task has ended (and stopped the plugin it held).
    private let ended = Latch()

    init(
        configuration: PluginClientConfiguration, policy: RestartPolicy, reactor: Reactor, first: PluginClient,
        beforeRestart: (@Sendable () async -> Void)?
    ) {
        self.beforeRestart = beforeRestart
        self.configuration = configuration
        self.policy = policy
        self.reactor = reactor
        var logger = configuration.logger
        logger[metadataKey: "plugin.name"] = "\(configuration.displayName)"
        self.logger = logger
        self.metrics = PluginMetrics(configuration)
        self.inner = Mutex(Inner(state: .running(first), current: first))
    }

    var state: State { inner.withLock { $0.state } }
    var restarts: Int { inner.withLock { $0.restarts } }
    var waitingClients: Int { inner.withLock { $0.waitingClients } }

    /// Starts the supervision task, which holds this supervisor (not the application's handle).
    func startSupervising(_ first: PluginClient) {
        let task = Task(executorPreference: reactor) { [self] in await supervise(first) }
        inner.withLock { $0.supervision = task }
    }

    func client() async throws -> PluginClient {
        // One deadline for all of a client's waiting, however many changes of state it sees.
        guard case .wait(let bound) = policy.whileRestarting else { return try await clientNow(waiting: false) }
        do {
            return try await reactor.withDeadline(bound) { try await self.clientNow(waiting: true) }
        } catch let error as ReactorError where error.code == .timedOut {
            throw PluginError(.pluginRestarting, "\(configuration.displayName) was not back within \(bound)")
        }
    }

    /// The running plugin's client; while it is down, waits for each change of state (`waiting`)
    /// or throws `pluginRestarting`.
    private func clientNow(waiting: Bool) async throws -> PluginClient {
        while true {
            let (state, changed) = inner.withLock { ($0.state, $0.changed) }
            let down: String
            switch state {
            case .running(let client):
                // An exit the supervision task has not taken in yet is a restart about to begin.
                guard client.exitStatus != nil else { return client }
                down = "exited and is about to be restarted"
            case .gaveUp(let error):
                throw error
            case .stopped:
                throw PluginError(.pluginStopped, "\(configuration.displayName) was stopped")
            case .restarting(let restart):
                down = "exited and is being restarted (restart \(restart))"
            }
            guard waiting else { throw PluginError(.pluginRestarting, "\(configuration.displayName) \(down)") }
            inner.withLock { $0.waitingClients += 1 }
            defer { inner.withLock { $0.waitingClients -= 1 } }
            try await changed.waitUnlessCancelled()
        }
    }

    /// Ends the supervision (the task stops the plugin it holds, `how` says how) and waits for it.
    func end(_ how: Stopping) async {
        let current = beginEnding(how)
        if how == .forced, let current { await current.kill() }
        await ended.wait()
    }

    /// Marks the supervision stopping and cancels its task, without waiting; returns the client
    /// it holds now.
    @discardableResult
    func beginEnding(_ how: Stopping) -> PluginClient? {
        let (task, current) = inner.withLock { inner -> (Task<Void, Never>?, PluginClient?) in
            if inner.stopping != .forced { inner.stopping = how }
            set(.stopped, in: &inner)
            return (inner.supervision, inner.current)
        }
        task?.cancel()
        return current
    }

    /// Sets `state` and wakes the tasks waiting for a change; with the lock held.
    private func set(_ state: State, in inner: inout Inner) {
        if case .stopped = inner.state { return }
        inner.state = state
        inner.changed.open()
        inner.changed = Latch()
    }

    private func update(_ state: State, current: PluginClient?) {
        inner.withLock { inner in
            set(state, in: &inner)
            inner.current = current
        }
    }

    /// Waits for each plugin's exit and starts the next, until stopped or out of budget.
    private func supervise(_ first: PluginClient) async {
        var schedule = RestartSchedule(policy: policy)
        var random = SystemRandomNumberGenerator()
        var current: PluginClient? = first
        defer { ended.open() }
        while let client = current {
            let status = try? await client.waitForExit()
            if let stopping = inner.withLock({ $0.stopping }) {
                await stopping == .forced ? client.kill() : client.stop()
                return
            }
            // The plugin exited on its own: release what its client holds (it is reaped).
            await client.stop()
            let exit = status.map { "\($0)" } ?? "ended"
            current = await restart(after: exit, schedule: &schedule, random: &random)
        }
    }

    /// Starts the plugin again, retrying failed starts, within the budget; nil when stopped or
    /// out of budget.
    private func restart(
        after exit: String, schedule: inout RestartSchedule, random: inout SystemRandomNumberGenerator
    ) async -> PluginClient? {
        var reason = "it \(exit)"
        while true {
            guard let delay = schedule.nextRestart(at: .now, random: &random) else {
                let error = PluginError(
                    .restartsExhausted,
                    """
                    \(configuration.displayName) was restarted \(policy.maximumRestarts) times within \(policy.window) \
                    and is not started again; last: \(reason)
                    """)
                logger.error("plugin is not restarted again: \(error.message)")
                metrics?.gaveUpRestarting()
                update(.gaveUp(error), current: nil)
                return nil
            }
            let restart = schedule.restartsInWindow
            update(.restarting(restart: restart), current: nil)
            logger.warning(
                "plugin stopped unexpectedly (\(reason)); restarting it in \(delay)",
                metadata: ["plugin.restart": "\(restart)"])
            do {
                try await reactor.sleep(for: delay)
                await beforeRestart?()
                try Task.checkCancellation()
                let client = try await PluginClient.start(configuration, on: reactor)
                let kept = inner.withLock { inner in
                    guard inner.stopping == nil else { return false }
                    inner.restarts += 1
                    set(.running(client), in: &inner)
                    inner.current = client
                    return true
                }
                guard kept else {
                    // Stopped while it started: as the stop asked.
                    await inner.withLock({ $0.stopping }) == .forced ? client.kill() : client.stop()
                    return nil
                }
                metrics?.restarted()
                logger.info(
                    "plugin restarted",
                    metadata: ["plugin.restart": "\(restart)", "plugin.pid": "\(client.process.pid)"])
                return client
            } catch {
                if inner.withLock({ $0.stopping }) != nil { return nil }
                logger.error("plugin restart failed: \(error)", metadata: ["plugin.restart": "\(restart)"])
                reason = "its restart failed: \(error)"
            }
        }
    }
}
