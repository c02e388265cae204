import Foundation
import SystemPackage
import TetherMux
import TetherRPC
import TetherReactor

/// The plugin side: call ``serve(handshake:services:environment:)`` from a plugin's `main` and
/// exit with what it returns.
///
/// It checks the magic cookie (wrong or missing: an explanation on stderr, exit status 1), picks
/// the highest application protocol version it shares with the host, listens on a unix socket in
/// `PLUGIN_UNIX_SOCKET_DIR` (or the temporary directory), prints the handshake line on stdout,
/// accepts exactly one connection — from its parent process, or at least its own user — and
/// removes the socket. It asks to be killed when its host dies (`PR_SET_PDEATHSIG`; the kernel
/// ties this to the host *thread* that spawned it) and ignores SIGINT (a Ctrl-C in the host's
/// terminal is the host's to handle). Then it serves the services of the chosen version over a multiplexed
/// session until the host closes it (the host's quit), and returns 0.
public enum PluginServer {
    /// Serves until the host closes the session.
    ///
    /// - Parameters:
    ///   - services: per application protocol version the plugin supports, its services by the
    ///     name hosts dispense them under.
    /// - Returns: the exit status for `main`: 0 after the host quit, 1 when not started by a host
    ///   or the host could not be served.
    public static func serve(
        handshake: HandshakeConfiguration,
        services: [Int: [String: any RPCService]],
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async -> Int32 {
        precondition(!services.isEmpty, "a plugin serves at least one version")
        let contract: PluginEnvironment
        do {
            contract = try PluginEnvironment(environment, handshake: handshake)
        } catch {
            reportToStandardError(error.message)
            return 1
        }
        // Die with the host; leave the terminal's Ctrl-C to it.
        do {
            try ProcessControl.dieWithParent(
                expectedParent: contract.hostProcessID ?? ProcessControl.parentProcessID)
            try ProcessControl.ignoreInterrupts()
        } catch {
            reportToStandardError("plugin: \(error)")
            return 1
        }
        let supported = services.keys.sorted()
        let version = contract.chosenVersion(supported: supported)
        let reactor: Reactor
        do {
            reactor = try Reactor.start()
        } catch {
            reportToStandardError("plugin: cannot start the reactor: \(error)")
            return 1
        }
        let status = await withTaskExecutorPreference(reactor) {
            await serve(
                version: version, supported: supported, services: services[version] ?? [:], contract: contract,
                reactor: reactor)
        }
        await reactor.shutdown()
        return status
    }

    private static func serve(
        version: Int, supported: [Int], services: [String: any RPCService], contract: PluginEnvironment,
        reactor: Reactor
    ) async -> Int32 {
        let directory = contract.unixSocketDirectory ?? FileManager.default.temporaryDirectory.path
        let path = "\(directory)/plugin-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max)).sock"
        do {
            let listener = try Listener.listen(on: .unix(path: path), backlog: 1, reactor: reactor)
            let line = HandshakeLine(appVersion: version, network: .unix, address: path, supportedVersions: supported)
            FileHandle.standardOutput.write(Data((line.description + "\n").utf8))
            let socket = try await acceptHost(on: listener)
            let session = try await MuxSession(socket: socket, role: .server)
            // The host opens the control stream and the stdout/stderr streams first (§10).
            let streams = try await PluginStreams.accept(on: session)
            let forwarding = try forwardStandardOutputAndError(to: streams, reactor: reactor)
            let control = Task(executorPreference: reactor) { await ControlRecord.answerPings(on: streams.control) }
            let server = RPCServer()
            for (name, service) in services { server.register(service, as: name) }
            await server.serve(session)
            forwarding.cancel()
            control.cancel()
            await session.close()
            return 0
        } catch {
            reportToStandardError("plugin: \(error)")
            try? FileManager.default.removeItem(atPath: path)
            return 1
        }
    }

    /// Accepts one connection, checks that it comes from our parent (or our user), then closes the
    /// listener, which removes the socket file.
    private static func acceptHost(on listener: Listener) async throws -> StreamSocket {
        do {
            while true {
                let socket = try await listener.accept()
                if let peer = try? socket.peerCredentials(), peer.pid == getppid() || peer.uid == getuid() {
                    try await listener.close()
                    return socket
                }
                try await socket.close()
            }
        } catch {
            try? await listener.close()
            throw error
        }
    }

    /// From now on what this process writes to fds 1 and 2 goes to the host over streams 3 and 5.
    private static func forwardStandardOutputAndError(to streams: PluginStreams, reactor: Reactor) throws
        -> Task<Void, Never>
    {
        let (output, error) = try ProcessControl.redirectStandardOutputAndError(on: reactor)
        return Task(executorPreference: reactor) {
            await withTaskGroup(of: Void.self) { group in
                for (pipe, stream) in [(output, streams.standardOutput), (error, streams.standardError)] {
                    group.addTask(executorPreference: reactor) {
                        while !Task.isCancelled, let slice = try? await pipe.read() {
                            guard (try? await stream.write(slice)) != nil else { break }
                        }
                        try? await stream.closeWrite()
                        try? await pipe.close()
                    }
                }
            }
        }
    }

    static func reportToStandardError(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}
