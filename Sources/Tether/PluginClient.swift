import Foundation
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
    public let process: ChildProcess
    public let session: MuxSession
    /// The application protocol version both sides agreed on.
    public let appVersion: Int
    private let launch: PluginLaunch
    private let killed = Mutex(false)

    private init(
        configuration: PluginClientConfiguration, process: ChildProcess, session: MuxSession, appVersion: Int,
        launch: PluginLaunch
    ) {
        self.configuration = configuration
        self.process = process
        self.session = session
        self.appVersion = appVersion
        self.launch = launch
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
            launch.forwardOutputAfterHandshake()
            return PluginClient(
                configuration: configuration, process: launch.process, session: session, appVersion: version,
                launch: launch)
        } catch {
            await launch.abandon()
            throw error
        }
    }

    /// The private (0700) directory holding the plugin's socket; removed by ``kill()``.
    public var socketDirectory: String { launch.socketDirectory }

    /// A client of the service the plugin registered as `name`.
    public func dispense<Client: RPCClientStub>(_ type: Client.Type, name: String) -> Client {
        Client(channel: RPCChannel(session: session, service: name))
    }

    /// Waits for the plugin process to end (it is reaped); the same status every time.
    public func waitForExit() async throws -> ExitStatus {
        try await process.waitForExit()
    }

    /// Stops the plugin: closes the session (the plugin's quit request), waits the grace period,
    /// sends SIGTERM to its process group, waits again, then SIGKILL to the group. Reaps the process, closes every descriptor and
    /// removes the socket directory. Calling it again waits for the first call's result.
    public func kill() async {
        let first = killed.withLock { killed in
            defer { killed = true }
            return !killed
        }
        guard first else {
            _ = try? await process.waitForExit()
            return
        }
        await session.close()
        let grace = configuration.shutdownGrace
        if await launch.waitForExit(within: grace) == nil {
            try? process.sendToProcessGroup(signal: SIGTERM)
            if await launch.waitForExit(within: grace) == nil {
                try? process.sendToProcessGroup(signal: SIGKILL)
                _ = try? await process.waitForExit()
            }
        }
        await launch.release()
    }
}
