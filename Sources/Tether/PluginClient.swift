import CoreMetrics
import Logging
import Synchronization
import SystemPackage
import TetherMux
import TetherRPC
import TetherReactor

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The host's handle on one plugin process: started with ``start(_:on:)``, used through
/// ``dispense(_:name:)``, stopped with ``stop()``. ``withPlugin(_:on:_:)`` does all three for a
/// plugin used within one scope. A client released without `stop()` stops its plugin all the
/// same (see `deinit`).
///
/// `start` spawns the plugin in a process group of its own with the handshake environment and a
/// private (0700) socket directory, reads its stdout on the reactor until the handshake line (lines
/// before it go to the stdout sink), checks the line and the versions, connects, checks that the
/// process at the other end is the one it spawned (`SO_PEERCRED`) and opens the multiplexed session.
/// Every failure has its own ``PluginError`` and leaves no process, socket or descriptor behind.
///
/// ``reattach(_:configuration:on:)`` makes a client of a plugin that is already running (one
/// launched with ``PluginClientConfiguration/reattachable``, or served by hand in debug mode)
/// from its ``ReattachConfiguration``; docs/guide.md, "Reattach and debug mode".
public final class PluginClient: Sendable {
    public let configuration: PluginClientConfiguration
    /// The plugin's process: a ``ChildProcess`` when this client launched it, an
    /// ``AttachedProcess`` when it reattached to it. Signals through it go through the pidfd.
    public var process: any ProcessHandle {
        switch owner {
        case .launch(let launch): launch.process
        case .attachment(let attachment): attachment.process
        }
    }
    public let session: MuxSession
    /// The application protocol version both sides agreed on.
    public let appVersion: Int
    /// The handshake line the plugin printed (its network and address among others); for a
    /// reattached client, the same fields as its ``ReattachConfiguration`` gave them.
    public let handshake: HandshakeLine
    private let owner: Owner
    /// Streams 1, 3 and 5; held so that they stay open (dropping a stream handle resets it).
    private let streams: PluginStreams
    private let control: ControlChannel
    private let nextInstance = Mutex(1)
    /// Serves the plugin's calls on the session: calls to the objects the host passes as
    /// callbacks (`any P & Sendable` arguments), registered for the duration of their call.
    private let callbacks: RPCServer

    /// What holds the plugin's process: the launch that spawned it, or the attachment to a
    /// plugin that was already running.
    enum Owner: Sendable {
        case launch(PluginLaunch)
        case attachment(PluginAttachment)

        var reactor: Reactor {
            switch self {
            case .launch(let launch): launch.reactor
            case .attachment(let attachment): attachment.reactor
            }
        }

        func exitExplanation() async -> (any Error)? {
            switch self {
            case .launch(let launch): await launch.exitExplanation()
            case .attachment(let attachment): await attachment.exitExplanation()
            }
        }
    }

    init(
        configuration: PluginClientConfiguration, session: MuxSession, appVersion: Int,
        handshake: HandshakeLine,
        owner: Owner, streams: PluginStreams, control: ControlChannel? = nil
    ) {
        self.configuration = configuration
        self.session = session
        self.appVersion = appVersion
        self.handshake = handshake
        self.owner = owner
        self.streams = streams
        self.control = control ?? ControlChannel(stream: streams.control, reactor: owner.reactor)
        let callbacks = RPCServer(configuration: configuration.rpc)
        self.callbacks = callbacks
        // Ends with the session; holds the server and the session, not the client.
        Task(executorPreference: owner.reactor) { await callbacks.serve(session) }
    }

    /// A client released without ``stop()`` still ends its plugin: the same escalation as `stop()`
    /// runs in a task that holds the plugin's process, pipes and session but not the client, and
    /// reaps it. The socket directory goes at once (the plugin has accepted; nothing uses it), so
    /// it is gone even if the reactor is shut down before that task has finished. A detached
    /// plugin (``detach()``) is left as it is.
    deinit {
        switch owner {
        case .launch(let launch): launch.clientReleased(session: session, control: control)
        case .attachment(let attachment): attachment.clientReleased(session: session, control: control)
        }
    }

    /// Starts the plugin and connects to it.
    ///
    /// One deadline, ``PluginClientConfiguration/startTimeout``, covers the whole start: from the
    /// spawn to the handshake line, the connect, the peer check, the session and its first
    /// streams. When it passes, the plugin is killed and reaped and `start` throws `startTimeout`
    /// naming the phase it was in. Whatever fails, nothing is left behind: no process, descriptor
    /// or socket directory.
    ///
    /// Prefer ``withPlugin(_:on:_:)``, which also stops the plugin whatever its body does.
    ///
    /// - Throws: ``PluginError`` — `executableNotFound`, `notExecutable`, `launchFailed`,
    ///   `tooManyOpenFiles`, `exitedBeforeHandshake`, `cookieMismatch`, `startTimeout`, `malformedHandshake`,
    ///   `coreVersionMismatch`, `noCommonVersion`, `unsupportedNetwork`, `unsupportedProtocol`,
    ///   `tlsUnsupported`, `peerMismatch`, `verificationFailed` (a configured verifier refused
    ///   the binary).
    public static func start(_ configuration: PluginClientConfiguration, on reactor: Reactor) async throws
        -> PluginClient
    {
        // Metrics of the start as a whole: its duration when it succeeds, its code when it fails.
        let metrics = PluginMetrics(configuration)
        let clock = ContinuousClock()
        let begin = clock.now
        do {
            let client = try await launchAndConnect(configuration, on: reactor, metrics: metrics)
            metrics?.started(after: clock.now - begin)
            return client
        } catch {
            metrics?.startFailed(error)
            throw error
        }
    }

    /// What ``start(_:on:)`` does; `start` itself times it and counts its failure.
    private static func launchAndConnect(
        _ configuration: PluginClientConfiguration, on reactor: Reactor, metrics: PluginMetrics?
    ) async throws -> PluginClient {
        let launch = try await PluginLaunch.spawn(configuration, on: reactor, metrics: metrics)
        let attempt = StartAttempt()
        do {
            let ready = try await reactor.withDeadline(configuration.startTimeout) {
                try await connect(launch, attempt)
            }
            // Forwarding first: the exit watcher waits for stream 5's end when it reads the tail.
            launch.forwardOutputAfterHandshake(streams: ready.streams)
            launch.watchExit(session: ready.session)
            launch.logger.debug(
                "plugin started",
                metadata: [
                    "plugin.version": "\(ready.version)",
                    "plugin.address": "\(ready.handshake.network):\(ready.handshake.address)",
                ])
            return PluginClient(
                configuration: configuration, session: ready.session, appVersion: ready.version,
                handshake: ready.handshake, owner: .launch(launch), streams: ready.streams)
        } catch {
            let phase = attempt.phase
            // In a task of its own: the caller's may be cancelled, and the cleanup must not be.
            await Task(executorPreference: reactor) {
                await launch.abandon()
                await attempt.release(on: reactor, within: configuration.shutdownGrace)
            }.value
            if let error = error as? ReactorError, error.code == .timedOut {
                throw PluginError(
                    .startTimeout,
                    "\(configuration.executable) was not ready within \(configuration.startTimeout) (still \(phase))")
            }
            throw error
        }
    }

    /// A plugin's session with its first streams, as ``start(_:on:)`` makes it.
    private struct Ready: Sendable {
        let session: MuxSession
        let streams: PluginStreams
        let handshake: HandshakeLine
        let version: Int
    }

    /// Handshake line → connect → peer check → session → streams 1, 3, 5, noting each phase and
    /// what it made in `attempt` (which the caller releases if this throws).
    private static func connect(_ launch: PluginLaunch, _ attempt: StartAttempt) async throws -> Ready {
        let configuration = launch.configuration
        attempt.phase = "reading the handshake line"
        let line = try await launch.readHandshake()
        let handshake = try HandshakeLine.parse(Substring(line))
        let version = try handshake.agreedVersion(hostVersions: configuration.handshake.appVersions)
        attempt.phase = "connecting to \(handshake.address)"
        let socket = try await launch.connect(to: handshake)
        attempt.socket = socket
        attempt.phase = "checking that the plugin serves \(handshake.address)"
        try await launch.checkPeer(of: socket, handshake: handshake)
        let (session, streams) = try await openSession(on: socket, configuration, attempt)
        return Ready(session: session, streams: streams, handshake: handshake, version: version)
    }

    /// The session on `socket` (a connection whose peer was checked) and its streams 1, 3 and 5,
    /// noting each phase and the session in `attempt`.
    static func openSession(
        on socket: StreamSocket, _ configuration: PluginClientConfiguration, _ attempt: StartAttempt
    ) async throws -> (MuxSession, PluginStreams) {
        attempt.phase = "starting the session"
        let session: MuxSession
        do {
            session = try await MuxSession(
                socket: socket, role: .client, configuration: configuration.mux,
                metricsFactory: configuration.metricsFactory ?? MetricsSystem.factory)
        } catch {
            throw PluginError(.launchFailed, "session: \(error)")
        }
        attempt.session = session
        attempt.phase = "opening streams 1, 3 and 5"
        let streams = try await PluginStreams.open(on: session)
        return (session, streams)
    }

    /// Asks the plugin to answer on the control stream and returns the round trip.
    ///
    /// - Parameter timeout: how long to wait for the answer (sending the ping included: a plugin
    ///   that stopped reading its control stream can hold the write).
    /// - Throws: ``PluginError/Code-swift.struct/pingTimeout`` when no answer came within
    ///   `timeout` (the plugin is alive but does not serve its control stream);
    ///   ``PluginError/Code-swift.struct/pluginExited`` when the plugin has exited; `launchFailed`
    ///   when the control stream is gone for another reason; `CancellationError` when the
    ///   calling task is cancelled first.
    public func ping(timeout: Duration = .seconds(10)) async throws -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        switch try await control.ping(within: timeout, on: owner.reactor) {
        case .answered:
            return clock.now - start
        case .timedOut:
            throw PluginError(.pingTimeout, "\(configuration.displayName) did not answer a ping within \(timeout)")
        case .ended:
            if let exited = await owner.exitExplanation() { throw exited }
            throw PluginError(.launchFailed, "the control stream ended")
        }
    }

    /// The private (0700) directory holding the plugin's socket; removed by ``stop()``, or when
    /// the client is released (not by ``detach()``: the plugin still listens there). For a
    /// reattached client, the directory of its unix socket, and empty over TCP.
    public var socketDirectory: String {
        switch owner {
        case .launch(let launch): return launch.socketDirectory
        case .attachment(let attachment):
            guard handshake.network == .unix else { return "" }
            return URL(fileURLWithPath: attachment.reattach.address).deletingLastPathComponent().path
        }
    }

    /// A client of the service the plugin registered as `name`. Every call makes a new client;
    /// clients are cheap (calls are streams of the one session).
    ///
    /// When the plugin process has exited, its calls fail with ``PluginError/Code-swift.struct/pluginExited``
    /// (naming the exit status or signal, with the tail of its stderr) rather than a lost
    /// connection.
    ///
    /// - Throws: ``PluginError/Code-swift.struct/unknownPlugin`` when the configuration lists the
    ///   plugins it may dispense (``PluginClientConfiguration/plugins``) and `name` is not one.
    public func dispense<Client: RPCClientStub>(_ type: Client.Type, name: String) throws(PluginError) -> Client {
        try checkListed(name)
        return client(type, service: name)
    }

    /// A client of a new, independent instance of the plugin `name` (one the plugin serves
    /// through a factory, see ``PluginServer/serve(handshake:services:instances:rpc:mux:environment:)``):
    /// its state is its own, as with go-plugin's `Dispense`. The instance is made at its first
    /// call and lives as long as the plugin's session: there is no message to free one yet, so
    /// dispense instances per plugin, not per request.
    ///
    /// - Throws: ``PluginError/Code-swift.struct/unknownPlugin`` as ``dispense(_:name:)``.
    public func dispenseInstance<Client: RPCClientStub>(_ type: Client.Type, name: String) throws(PluginError) -> Client
    {
        try checkListed(name)
        let instance = nextInstance.withLock { next in
            defer { next += 1 }
            return next
        }
        return client(type, service: "\(name)#\(instance)")
    }

    private func checkListed(_ name: String) throws(PluginError) {
        guard configuration.plugins.isEmpty || configuration.plugins.contains(name) else {
            throw PluginError(
                .unknownPlugin,
                "\(name) is not among the plugins this host may dispense: \(configuration.plugins.sorted())")
        }
    }

    private func client<Client: RPCClientStub>(_ type: Client.Type, service: String) -> Client {
        var rpc = configuration.rpc
        let owner = self.owner
        rpc.explainConnectionLoss = { await owner.exitExplanation() }
        return Client(
            channel: RPCChannel(session: session, service: service, configuration: rpc, callbackServer: callbacks))
    }

    /// Waits for the plugin process to end (it is reaped); the same status every time. The host
    /// learns of the exit at once (a pidfd completion) and closes the session then.
    ///
    /// - Throws: for a reattached plugin, which is not this process's child and cannot be
    ///   reaped, ``PluginError/Code-swift.struct/exitStatusUnknown`` once it has exited (its
    ///   status is its parent's to know).
    public func waitForExit() async throws -> ExitStatus {
        switch owner {
        case .launch(let launch): try await launch.process.waitForExit()
        case .attachment(let attachment): try await attachment.waitForExit()
        }
    }

    /// The exit status, once the process has ended; always nil for a reattached plugin (see
    /// ``waitForExit()``).
    public var exitStatus: ExitStatus? {
        switch owner {
        case .launch(let launch): launch.process.exitStatus
        case .attachment: nil
        }
    }

    /// True when this client reattached to a running plugin rather than launching it.
    public var isReattached: Bool {
        if case .attachment = owner { return true }
        return false
    }

    /// What another host needs to reattach to this plugin (``reattach(_:configuration:on:)``),
    /// or nil when the plugin was launched without ``PluginClientConfiguration/reattachable``
    /// (it accepts no host but its first). ``ReattachConfiguration/plugins`` lists
    /// ``PluginClientConfiguration/plugins``. Another host reaches the plugin once this one has
    /// detached (``detach()``): a plugin serves one host at a time.
    public var reattachConfiguration: ReattachConfiguration? {
        switch owner {
        case .launch(let launch):
            guard configuration.reattachable else { return nil }
            return ReattachConfiguration(
                appVersion: appVersion, network: handshake.network, address: handshake.address,
                pid: launch.process.pid, plugins: configuration.plugins.sorted())
        case .attachment(let attachment):
            return attachment.reattach
        }
    }

    /// Stops the plugin gracefully and reaps it, whatever it is doing.
    ///
    /// Closes the session (the plugin's quit request) and gives the plugin
    /// ``PluginClientConfiguration/shutdownGrace`` to exit; then sends SIGTERM to its process
    /// group and waits another grace; then SIGKILL to the group. The grace bounds the graceful
    /// part as a whole, so a plugin that stopped reading (a send of the host's that never
    /// finishes) is signalled like any other. Then it reaps the process, closes every descriptor
    /// (waiting at most a grace each for the session's and the output's end) and removes the
    /// socket directory: at most three graces and the kernel's SIGKILL in all. The escalation
    /// runs in a task of its own, so cancelling the caller cannot cut the grace periods short or
    /// return before the plugin is reaped. Calling it again (or ``kill()``) waits for the first
    /// call's result.
    ///
    /// A reattachable plugin is sent a quit request on the control stream first (the end of
    /// one host's session does not end it). For a reattached plugin, which is not this host's
    /// child, the same steps signal only the process itself, through its pidfd (never its group,
    /// never by pid), and nothing is reaped; a plugin in debug mode
    /// (``ReattachConfiguration/debug``) is detached from instead (``detach()``), so that the
    /// next host can reattach.
    public func stop() async {
        switch owner {
        case .launch(let launch): await launch.stop(session: session, control: control)
        case .attachment(let attachment): await attachment.stop(session: session, control: control)
        }
    }

    /// Lets the plugin run on for the next host: closes this host's session without asking the
    /// plugin to quit, and lets go of its process (a launched one is neither signalled nor
    /// killed by ``Reactor/shutdown()`` from then on; the reactor still reaps it if it exits
    /// while it runs). The socket directory stays, the plugin listens there. ``stop()`` and
    /// ``kill()`` do nothing afterwards, and ``waitForExit()`` throws (the handle is closed). A plugin launched without
    /// ``PluginClientConfiguration/reattachable`` serves only its first host, so for it this is
    /// ``stop()``.
    public func detach() async {
        switch owner {
        case .launch(let launch): await launch.detach(session: session, control: control)
        case .attachment(let attachment): await attachment.detach(session: session)
        }
    }

    /// Ends the plugin at once: SIGKILL to its process group, without waiting for it to quit (the
    /// session is closed as by ``stop()``, but no grace is given); then
    /// the same release as ``stop()`` (reaped, descriptors closed, socket directory removed).
    /// During a ``stop()`` it cuts the graceful part short. For a plugin that must not run one
    /// moment longer; prefer ``stop()``, which lets the plugin finish its work and flush its
    /// output.
    ///
    /// For a reattached plugin: SIGKILL through its pidfd (its own process only), also in debug
    /// mode.
    public func kill() async {
        switch owner {
        case .launch(let launch): await launch.kill(session: session, control: control)
        case .attachment(let attachment): await attachment.kill(session: session)
        }
    }
}

/// Starts a plugin, runs `body` with its client and stops the plugin (``PluginClient/stop()``)
/// when `body` returns or throws: the way to use one plugin.
///
/// ```swift
/// let answer = try await withPlugin(configuration, on: reactor) { plugin in
///     try await plugin.dispense(KeyValueClient.self, name: "kv").get("answer")
/// }
/// ```
///
/// When this returns, the plugin has been reaped, its descriptors closed and its socket directory
/// removed, whatever happened: `body` threw, the task was cancelled, the plugin crashed.
///
/// - Throws: what ``PluginClient/start(_:on:)`` throws, or what `body` throws.
public nonisolated(nonsending) func withPlugin<Result>(
    _ configuration: PluginClientConfiguration, on reactor: Reactor,
    _ body: nonisolated(nonsending) (PluginClient) async throws -> Result
) async throws -> Result {
    let plugin = try await PluginClient.start(configuration, on: reactor)
    let result: Swift.Result<Result, any Error>
    do {
        result = .success(try await body(plugin))
    } catch {
        result = .failure(error)
    }
    await plugin.stop()
    return try result.get()
}

/// What a start (or a reattach) has made so far, and the phase it is in, for the cleanup and the
/// timeout's message.
final class StartAttempt: Sendable {
    private struct State {
        var phase = "spawning the plugin"
        var socket: StreamSocket?
        var session: MuxSession?
    }
    private let state = Mutex(State())

    var phase: String {
        get { state.withLock { $0.phase } }
        set { state.withLock { $0.phase = newValue } }
    }
    var socket: StreamSocket? {
        get { state.withLock { $0.socket } }
        set { state.withLock { $0.socket = newValue } }
    }
    var session: MuxSession? {
        get { state.withLock { $0.session } }
        set { state.withLock { $0.session = newValue } }
    }

    /// Closes the session (which owns the socket) or else the socket; the plugin is gone by then,
    /// so a close ends at once unless another process holds the plugin's end: bounded.
    func release(on reactor: Reactor, within bound: Duration) async {
        if let session {
            await SessionClosing(session, on: reactor).wait(within: bound, on: reactor)
        } else if let socket {
            try? await socket.close()
        }
    }
}
