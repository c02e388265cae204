import Glibc
import TetherMux
import TetherReactor

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension PluginClient {
    /// Connects to a plugin that is already running (go-plugin's `Reattach`), from the
    /// ``ReattachConfiguration`` another host exported or a debug-mode plugin printed.
    ///
    /// Nothing in `reattach` is trusted. In order: its fields must be Tether's (protocol, core
    /// version, network) and its application version one `configuration` supports; the pid must
    /// name a live process, which a pidfd then holds (`pidfd_open`); the address is connected
    /// to; the process at the other end must be that pid (`SO_PEERCRED` for a unix socket, the
    /// kernel's connection table for loopback TCP); the pidfd's process must still be alive
    /// after that check (so the pid was not recycled in between: the peer *is* the pidfd's
    /// process); then the session, its streams 1, 3 and 5 and one ping, which the plugin
    /// answers only once it serves this host (a plugin serves one host at a time).
    /// ``PluginClientConfiguration/startTimeout`` bounds the connect to the ping. Whatever
    /// fails, no process is signalled and nothing is left open.
    ///
    /// The client then works as a launched one, except: no pipes (stdout and stderr come over
    /// streams 3 and 5 only), ``exitStatus`` is nil and ``waitForExit()`` throws
    /// `exitStatusUnknown` once the plugin has exited (it is not our child), and ``stop()`` /
    /// ``kill()`` signal the plugin only through its pidfd (``stop()`` only detaches from a
    /// plugin in debug mode).
    ///
    /// - Parameters:
    ///   - configuration: the host's side: its versions, plugin names, timeouts, sinks and
    ///     logger (its executable names the plugin in logs and metrics; nothing is launched).
    /// - Throws: ``PluginError`` — `invalidReattachConfiguration` (a pid that is not positive, an
    ///   empty address), `unsupportedProtocol`, `coreVersionMismatch`, `unsupportedNetwork`,
    ///   `noCommonVersion` (an application version this host does not support), `unknownPlugin`
    ///   (the configuration lists plugins the reattached one does not serve), `pluginNotRunning`
    ///   (no such process, or it ended during the checks), `pluginUnreachable` (nothing to connect
    ///   to at the address), `peerMismatch` (another process serves the address), `startTimeout`,
    ///   `tooManyOpenFiles`.
    public static func reattach(
        _ reattach: ReattachConfiguration, configuration: PluginClientConfiguration, on reactor: Reactor
    ) async throws -> PluginClient {
        let network = try validate(reattach, configuration)
        let process: AttachedProcess
        do {
            process = try AttachedProcess.attach(pid: reattach.pid, on: reactor)
        } catch  where error.errno == .noSuchProcess {
            throw PluginError(.pluginNotRunning, "no process \(reattach.pid) is running: the configuration is stale")
        } catch {
            if let exhausted = PluginError.descriptorsExhausted(error, while: "opening a pidfd") { throw exhausted }
            throw PluginError(.launchFailed, "pidfd of \(reattach.pid): \(error)")
        }
        let attempt = StartAttempt()
        attempt.phase = "connecting to \(reattach.address)"
        do {
            let (session, streams, control) = try await reactor.withDeadline(configuration.startTimeout) {
                try await connect(reattach, network: network, process: process, configuration, attempt, on: reactor)
            }
            let attachment = PluginAttachment(
                configuration: configuration, reattach: reattach, process: process, reactor: reactor)
            attachment.forwardOutput(streams: streams)
            attachment.watchExit(session: session)
            attachment.logger.debug(
                "reattached to the plugin", metadata: ["plugin.address": "\(reattach.network):\(reattach.address)"])
            let handshake = HandshakeLine(appVersion: reattach.appVersion, network: network, address: reattach.address)
            return PluginClient(
                configuration: configuration, session: session, appVersion: reattach.appVersion,
                handshake: handshake, owner: .attachment(attachment), streams: streams, control: control)
        } catch {
            let phase = attempt.phase
            await Task(executorPreference: reactor) {
                await attempt.release(on: reactor, within: configuration.shutdownGrace)
                try? await process.close()
            }.value
            if let error = error as? ReactorError, error.code == .timedOut {
                throw PluginError(
                    .startTimeout,
                    "the plugin \(reattach.pid) at \(reattach.address) was not ready within "
                        + "\(configuration.startTimeout) (still \(phase))")
            }
            throw error
        }
    }

    /// Reattaches when ``ReattachConfiguration/environmentVariable`` (`TETHER_REATTACH_PLUGINS`)
    /// in `environment` has an entry for `configuration`'s executable (under its path or its
    /// file name), else starts the plugin (``start(_:on:)``). ``PluginHost/start(_:)`` goes
    /// through here, so a host built on it reaches a plugin a developer runs in a debugger.
    ///
    /// - Throws: what ``reattach(_:configuration:on:)`` or ``start(_:on:)`` throws;
    ///   `invalidEnvironment` when the variable is not a JSON object of configurations. A
    ///   configuration that fails its checks is an error, not a reason to launch instead.
    public static func startOrReattach(
        _ configuration: PluginClientConfiguration, on reactor: Reactor,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> PluginClient {
        guard
            let reattach = try ReattachConfiguration.fromEnvironment(
                environment, executable: configuration.executable, name: configuration.name)
        else {
            return try await start(configuration, on: reactor)
        }
        return try await PluginClient.reattach(reattach, configuration: configuration, on: reactor)
    }

    /// The fields of `reattach` that need no system call; returns its network.
    private static func validate(_ reattach: ReattachConfiguration, _ configuration: PluginClientConfiguration)
        throws(PluginError) -> HandshakeLine.Network
    {
        guard reattach.protocolName == HandshakeLine.tetherProtocol else {
            throw PluginError(
                .unsupportedProtocol,
                "the plugin speaks \"\(reattach.protocolName)\", not \"\(HandshakeLine.tetherProtocol)\"")
        }
        guard reattach.coreVersion == HandshakeLine.coreProtocolVersion else {
            throw PluginError(
                .coreVersionMismatch,
                "the plugin speaks core protocol \(reattach.coreVersion), this host \(HandshakeLine.coreProtocolVersion)"
            )
        }
        guard let network = HandshakeLine.Network(rawValue: reattach.network) else {
            throw PluginError(.unsupportedNetwork, "network \"\(reattach.network)\" (Tether speaks unix and tcp)")
        }
        guard reattach.pid > 0, !reattach.address.isEmpty else {
            throw PluginError(
                .invalidReattachConfiguration, "pid \(reattach.pid) and address \"\(reattach.address)\" name no plugin")
        }
        guard configuration.handshake.appVersions.contains(reattach.appVersion) else {
            throw PluginError(
                .noCommonVersion,
                "host supports \(ProtocolVersions.format(configuration.handshake.appVersions)), "
                    + "the running plugin serves \(reattach.appVersion)")
        }
        let missing = configuration.plugins.subtracting(reattach.plugins)
        guard reattach.plugins.isEmpty || missing.isEmpty else {
            throw PluginError(
                .unknownPlugin,
                "the running plugin serves \(reattach.plugins.sorted()), not \(missing.sorted())")
        }
        return network
    }

    /// Connect → peer check → the pidfd still alive → session → streams → a ping.
    private static func connect(
        _ reattach: ReattachConfiguration, network: HandshakeLine.Network, process: AttachedProcess,
        _ configuration: PluginClientConfiguration, _ attempt: StartAttempt, on reactor: Reactor
    ) async throws -> (MuxSession, PluginStreams, ControlChannel) {
        let socket = try await PluginConnection.connect(
            network: network, address: reattach.address, on: reactor, failure: .pluginUnreachable)
        attempt.socket = socket
        attempt.phase = "checking that the plugin \(reattach.pid) serves \(reattach.address)"
        try await PluginConnection.checkPeer(
            of: socket, pid: reattach.pid, network: network, address: reattach.address, on: reactor)
        // The peer had the pid; the pidfd's process still running means it is the same process.
        guard !process.hasExited else {
            throw PluginError(.pluginNotRunning, "the plugin \(reattach.pid) exited while the host reattached")
        }
        let (session, streams) = try await openSession(on: socket, configuration, attempt)
        attempt.phase = "waiting for the plugin's first answer (it serves one host at a time)"
        let control = ControlChannel(stream: streams.control, reactor: reactor)
        guard await control.ping() else {
            throw PluginError(.pluginUnreachable, "the plugin \(reattach.pid) closed the control stream")
        }
        return (session, streams, control)
    }
}
