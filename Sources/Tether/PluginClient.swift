import Foundation
import Logging
import Synchronization
import SystemPackage
import TetherMux
import TetherRPC
import TetherReactor

/// The host's handle on one plugin process: started with ``start(_:on:)``, used through
/// ``dispense(_:name:)``, stopped with ``kill()``.
///
/// `start` spawns the plugin in a process group of its own with the handshake environment and a
/// private (0700) socket directory, reads its stdout on the reactor until the handshake line (lines
/// before it go to the stdout sink), checks the line and the versions, connects, checks that the
/// process at the other end is the one it spawned (`SO_PEERCRED`) and opens the multiplexed session.
/// Every failure has its own ``PluginError`` and leaves no process, socket or descriptor behind.
public final class PluginClient: Sendable {
    public let configuration: PluginClientConfiguration
    /// The plugin's process.
    public var process: ChildProcess { launch.process }
    public let session: MuxSession
    /// The application protocol version both sides agreed on.
    public let appVersion: Int
    /// The handshake line the plugin printed (its network and address among others).
    public let handshake: HandshakeLine
    private let launch: PluginLaunch
    /// Streams 1, 3 and 5; held so that they stay open (dropping a stream handle resets it).
    private let streams: PluginStreams
    private let control: ControlChannel
    /// Set by the first `kill()`; `killed` opens when it has finished.
    private let killStarted = Mutex(false)
    private let killed = Latch()
    private let nextInstance = Mutex(1)

    private init(
        configuration: PluginClientConfiguration, session: MuxSession, appVersion: Int,
        handshake: HandshakeLine,
        launch: PluginLaunch, streams: PluginStreams
    ) {
        self.configuration = configuration
        self.session = session
        self.appVersion = appVersion
        self.handshake = handshake
        self.launch = launch
        self.streams = streams
        self.control = ControlChannel(stream: streams.control, reactor: launch.reactor)
    }

    /// Starts the plugin and connects to it.
    ///
    /// - Throws: ``PluginError`` — `executableNotFound`, `notExecutable`, `launchFailed`,
    ///   `exitedBeforeHandshake`, `startTimeout`, `malformedHandshake`, `coreVersionMismatch`,
    ///   `noCommonVersion`, `unsupportedNetwork`, `unsupportedProtocol`, `tlsUnsupported`,
    ///   `peerMismatch`.
    public static func start(_ configuration: PluginClientConfiguration, on reactor: Reactor) async throws
        -> PluginClient
    {
        let launch = try PluginLaunch.spawn(configuration, on: reactor)
        do {
            let line = try await launch.readHandshake()
            let handshake = try HandshakeLine.parse(Substring(line))
            let version = try handshake.agreedVersion(hostVersions: configuration.handshake.appVersions)
            let socket = try await launch.connect(to: handshake)
            let session: MuxSession
            do {
                session = try await MuxSession(socket: socket, role: .client, configuration: configuration.mux)
            } catch {
                try? await socket.close()
                throw PluginError(.launchFailed, "session: \(error)")
            }
            // The host learns of the exit at once (a pidfd completion): calls in flight fail then.
            let process = launch.process
            let logger = launch.logger
            Task(executorPreference: reactor) {
                let status = try? await process.waitForExit()
                logger.debug("plugin exited", metadata: ["plugin.exit": "\(status.map { "\($0)" } ?? "unknown")"])
                await session.close()
            }
            let streams: PluginStreams
            do {
                streams = try await PluginStreams.open(on: session)
            } catch {
                await session.close()
                throw error
            }
            launch.forwardOutputAfterHandshake(streams: streams)
            launch.logger.debug(
                "plugin started",
                metadata: ["plugin.version": "\(version)", "plugin.address": "\(handshake.network):\(handshake.address)"])
            return PluginClient(
                configuration: configuration, session: session, appVersion: version,
                handshake: handshake,
                launch: launch, streams: streams)
        } catch {
            await launch.abandon()
            throw error
        }
    }

    /// Asks the plugin to answer on the control stream and returns the round trip.
    ///
    /// - Throws: ``PluginError/Code-swift.struct/pluginExited`` when the plugin has exited,
    ///   `launchFailed` when the control stream is gone for another reason.
    public func ping() async throws -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        guard await control.ping() else {
            if let exited = await launch.exitExplanation() { throw exited }
            throw PluginError(.launchFailed, "the control stream ended")
        }
        return clock.now - start
    }

    /// The private (0700) directory holding the plugin's socket; removed by ``kill()``.
    public var socketDirectory: String { launch.socketDirectory }

    /// A client of the service the plugin registered as `name`. Every call makes a new client;
    /// clients are cheap (calls are streams of the one session).
    ///
    /// When the plugin process has exited, its calls fail with ``PluginError/Code-swift.struct/pluginExited``
    /// (naming the exit status or signal) rather than a lost connection.
    ///
    /// - Throws: ``PluginError/Code-swift.struct/unknownPlugin`` when the configuration lists the
    ///   plugins it may dispense (``PluginClientConfiguration/plugins``) and `name` is not one.
    public func dispense<Client: RPCClientStub>(_ type: Client.Type, name: String) throws(PluginError) -> Client {
        try checkListed(name)
        return client(type, service: name)
    }

    /// A client of a new, independent instance of the plugin `name` (one the plugin serves
    /// through a factory, see ``PluginServer/serve(handshake:services:instances:environment:)``):
    /// its state is its own, as with go-plugin's `Dispense`. The instance is made at its first
    /// call and lives as long as the plugin's session: there is no message to free one yet, so
    /// dispense instances per plugin, not per request.
    ///
    /// - Throws: ``PluginError/Code-swift.struct/unknownPlugin`` as ``dispense(_:name:)``.
    public func dispenseInstance<Client: RPCClientStub>(_ type: Client.Type, name: String) throws(PluginError) -> Client {
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
                .unknownPlugin, "\(name) is not among the plugins this host may dispense: \(configuration.plugins.sorted())")
        }
    }

    private func client<Client: RPCClientStub>(_ type: Client.Type, service: String) -> Client {
        var rpc = configuration.rpc
        let launch = self.launch
        rpc.explainConnectionLoss = { await launch.exitExplanation() }
        return Client(channel: RPCChannel(session: session, service: service, configuration: rpc))
    }

    /// Waits for the plugin process to end (it is reaped); the same status every time. The host
    /// learns of the exit at once (a pidfd completion) and closes the session then.
    public func waitForExit() async throws -> ExitStatus {
        try await process.waitForExit()
    }

    /// The exit status, once the process has ended.
    public var exitStatus: ExitStatus? { process.exitStatus }

    /// Stops the plugin: closes the session (the plugin's quit request), waits the grace period,
    /// sends SIGTERM to its process group, waits again, then SIGKILL to the group. Reaps the
    /// process, closes every descriptor and removes the socket directory. The escalation runs in
    /// a task of its own, so cancelling the caller cannot cut the grace periods short or return
    /// before the plugin is reaped. Calling it again waits for the first call's result.
    public func kill() async {
        let first = killStarted.withLock { started in
            defer { started = true }
            return !started
        }
        if first {
            Task(executorPreference: launch.reactor) { [self] in
                await escalate()
                killed.open()
            }
        }
        // The first call's result: reaped, pipes closed, socket directory removed.
        await killed.wait()
    }

    private func escalate() async {
        await session.close()
        let grace = configuration.shutdownGrace
        if await launch.waitForExit(within: grace) == nil {
            launch.logger.info("plugin did not quit within the grace period; sending SIGTERM to its process group")
            try? process.sendToProcessGroup(signal: SIGTERM)
            if await launch.waitForExit(within: grace) == nil {
                launch.logger.info("plugin ignored SIGTERM; sending SIGKILL to its process group")
                try? process.sendToProcessGroup(signal: SIGKILL)
                _ = try? await process.waitForExit()
            }
        }
        await launch.release()
    }
}
