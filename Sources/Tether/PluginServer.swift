import Glibc
import SystemPackage
import TetherMux
import TetherRPC
import TetherReactor

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The plugin side: call ``serve(handshake:services:instances:rpc:mux:environment:)`` from a plugin's `main` and
/// exit with what it returns.
///
/// It checks the magic cookie (wrong or missing: an explanation on stderr for a person who ran the
/// plugin by hand, exit status ``cookieMismatchExitStatus``), picks
/// the highest application protocol version it shares with the host, listens on a unix socket in
/// `PLUGIN_UNIX_SOCKET_DIR` (or the temporary directory), prints the handshake line on stdout,
/// accepts exactly one connection — from its parent process, or at least its own user — and
/// removes the socket. It asks to be killed when its host dies (`PR_SET_PDEATHSIG`; the kernel
/// ties this to the host *thread* that spawned it) and ignores SIGINT (a Ctrl-C in the host's
/// terminal is the host's to handle). Then it serves the services of the chosen version over a multiplexed
/// session until the host closes it (the host's quit), and returns 0.
///
/// Its stdout and stderr travel over streams 3 and 5 while it serves; what it writes to stderr
/// while crashing (a `fatalError`'s message and the Swift runtime's backtrace, say) or just
/// before `exit` still reaches the host, through the original stderr it keeps open.
///
/// Launched reattachable (`TETHER_PLUGIN_REATTACHABLE=1`, ``PluginClientConfiguration/reattachable``)
/// it outlives its host instead: no parent-death signal, SIGPIPE ignored, and it keeps its
/// listener and serves one host after another until a host's quit request (or a signal) ends
/// it. In debug mode (`TETHER_PLUGIN_DEBUG=1`, a plugin started by hand, under a debugger) it
/// needs no cookie, prints its ``ReattachConfiguration`` instead of the handshake line (one
/// line, ``ReattachConfiguration/debugLine(name:_:)``), leaves its stdout and stderr on the
/// terminal, lets Ctrl-C end it, and serves hosts in turn like a reattachable one.
/// docs/guide.md, "Reattach and debug mode".
public enum PluginServer {
    /// The exit status of a plugin whose magic cookie is missing or wrong: 78, `EX_CONFIG` of
    /// BSD's sysexits ("configuration error"). A host that sees it before the handshake, with the
    /// plugin's explanation on stderr ("This binary is a plugin…"), reports
    /// ``PluginError/Code-swift.struct/cookieMismatch`` (host and plugin were built with different
    /// ``HandshakeConfiguration``s) rather than a plugin that exited.
    public static let cookieMismatchExitStatus: Int32 = 78

    /// Serves until the host closes the session.
    ///
    /// - Parameters:
    ///   - services: per application protocol version the plugin supports, its services by the
    ///     name hosts dispense them under; every client of a name shares its one service.
    ///   - instances: per version, factories by name: each ``PluginClient/dispenseInstance(_:name:)``
    ///     of the host gets a service of its own, made at its first call.
    ///   - rpc: the RPC server's options, among them the limits on what the host's calls may hold
    ///     (concurrent calls, the call message's deadline, bytes of messages still arriving).
    ///   - mux: the session's limits and timings (see ``MuxConfiguration``).
    /// - Returns: the exit status for `main`: 0 after the host quit, ``cookieMismatchExitStatus``
    ///   when not started by a host (no or another magic cookie), 1 when the environment is
    ///   unusable or the host could not be served.
    public static func serve(
        handshake: HandshakeConfiguration,
        services: [Int: [String: any RPCService]],
        instances: [Int: [String: @Sendable () -> any RPCService]] = [:],
        rpc: RPCConfiguration = RPCConfiguration(),
        mux: MuxConfiguration = MuxConfiguration(),
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async -> Int32 {
        precondition(!services.isEmpty || !instances.isEmpty, "a plugin serves at least one version")
        let contract: PluginEnvironment
        do {
            contract = try PluginEnvironment(environment, handshake: handshake)
        } catch {
            reportToStandardError(error.message)
            return error.code == .cookieMismatch ? cookieMismatchExitStatus : 1
        }
        // Die with the host, unless the plugin is to outlive it; leave the terminal's Ctrl-C to it.
        let debugging = contract.debug
        let reattachable = debugging || contract.reattachable
        do {
            if !reattachable {
                try ProcessControl.dieWithParent(
                    expectedParent: contract.hostProcessID ?? ProcessControl.parentProcessID)
            }
            if !debugging { try ProcessControl.ignoreInterrupts() }
            // Between hosts its stdout and stderr may lead to a pipe nobody reads any more.
            if reattachable { try ProcessControl.ignore(signal: SIGPIPE) }
        } catch {
            reportToStandardError("plugin: \(error)")
            return 1
        }
        let supported = Set(services.keys).union(instances.keys).sorted()
        let version = contract.chosenVersion(supported: supported)
        let server = RPCServer(configuration: rpc)
        for (name, service) in services[version] ?? [:] { server.register(service, as: name) }
        for (name, factory) in instances[version] ?? [:] { server.register(factory: factory, as: name) }
        // Listen and print the handshake line first, then start the reactor: the host's connect
        // waits in the backlog meanwhile, so the reactor's start overlaps the host's work.
        let directory = contract.unixSocketDirectory ?? FileManager.default.temporaryDirectory.path
        let path = "\(directory)/plugin-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        let socket: ListeningSocket
        // What the plugin printed before `serve` may still sit in C stdio's buffer (stdout is a
        // pipe, so fully buffered): it goes out now, ahead of the handshake, while fd 1 is the
        // host's pipe; later it would reach the host after the handshake, or be lost at exit.
        ProcessControl.flushStandardStreams()
        do {
            let (listening, network, address) = try listen(contract: contract, unixPath: path)
            let line = HandshakeLine(
                appVersion: version, network: network, address: address, supportedVersions: supported)
            let printed =
                debugging
                ? debugLine(
                    line, names: Set((services[version] ?? [:]).keys).union((instances[version] ?? [:]).keys),
                    environment: environment)
                : line.description
            try BlockingIO.writeAll(.standardOutput, printed + "\n")
            socket = listening
        } catch {
            reportToStandardError("plugin: \(error)")
            return 1
        }
        let reactor: Reactor
        do {
            reactor = try Reactor.start()
        } catch {
            reportToStandardError("plugin: cannot start the reactor: \(error)")
            return 1
        }
        let status = await withTaskExecutorPreference(reactor) {
            let listener = socket.listener(on: reactor)
            guard reattachable else {
                return await serve(server: server, listener: listener, mux: mux, reactor: reactor)
            }
            return await serveHostsInTurn(
                server: server, listener: listener, mux: mux, reactor: reactor, forwardOutput: !debugging,
                socketDirectory: debugging ? nil : contract.unixSocketDirectory)
        }
        await reactor.shutdown()
        return status
    }

    private static func serve(server: RPCServer, listener: Listener, mux: MuxConfiguration, reactor: Reactor) async
        -> Int32
    {
        do {
            let socket = try await acceptHost(on: listener)
            let session = try await MuxSession(socket: socket, role: .server, configuration: mux)
            // The host opens the control stream and the stdout/stderr streams first (§10).
            let streams = try await PluginStreams.accept(on: session)
            let forwarding = try forwardStandardOutputAndError(to: streams, reactor: reactor)
            let control = Task(executorPreference: reactor) { await ControlRecord.answerPings(on: streams.control) }
            await server.serve(session)
            forwarding.cancel()
            control.cancel()
            // Stream 5 is ending: what is still in the stderr pipe, and whatever the plugin
            // writes from now on, goes to the host's stderr pipe directly.
            ProcessControl.restoreStandardError()
            await session.close()
            return 0
        } catch let error as MuxError where error.code == .connectionClosed {
            // The host closed the connection before the plugin took its streams: its quit
            // request (a stop right after the start) came first. A clean exit, as it is later.
            ProcessControl.restoreStandardError()
            return 0
        } catch {
            ProcessControl.restoreStandardError()
            reportToStandardError("plugin: \(error)")
            return 1
        }
    }

    /// Listens where the host asked: a unix socket at `unixPath` (given the host's group, if it
    /// named one), or the first free loopback port of the host's range.
    private static func listen(contract: PluginEnvironment, unixPath: String) throws
        -> (ListeningSocket, HandshakeLine.Network, String)
    {
        switch contract.network {
        case .unix:
            let socket = try ListeningSocket(on: .unix(path: unixPath), backlog: 1)
            if let group = contract.unixSocketGroup, let problem = SocketGroup.problemGranting(unixPath, to: group) {
                throw problem
            }
            return (socket, .unix, unixPath)
        case .tcp(let ports):
            if let (socket, port) = try listenOnLoopback(ports) {
                return (socket, .tcp, "127.0.0.1:\(port)")
            }
            throw PluginError(.launchFailed, "no free port in \(ports.lowerBound)–\(ports.upperBound) on 127.0.0.1")
        }
    }

    /// A listening socket on the first port of `ports` that is free on 127.0.0.1; nil when none is.
    private static func listenOnLoopback(_ ports: ClosedRange<Int>) throws -> (ListeningSocket, Int)? {
        for port in ports {
            let result = Result { () throws(ReactorError) in
                try ListeningSocket(on: .tcp(host: "127.0.0.1", port: UInt16(port)), backlog: 1)
            }
            switch result {
            case .success(let socket): return (socket, port)
            case .failure(let error) where error.errno == .addressInUse: continue
            case .failure(let error): throw error
            }
        }
        return nil
    }

    /// Accepts one connection, checks that it comes from our parent (or our user), then closes the
    /// listener, which removes the socket file.
    private static func acceptHost(on listener: Listener) async throws -> StreamSocket {
        do {
            while true {
                let socket = try await listener.accept()
                if await isFromHost(socket) {
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

    /// True when `socket`'s other end belongs to our parent process or at least to our user:
    /// `SO_PEERCRED` for a unix socket, the kernel's connection table for loopback TCP.
    static func isFromHost(_ socket: StreamSocket) async -> Bool {
        if let peer = try? socket.peerCredentials(), peer.pid > 0 {
            return peer.pid == getppid() || peer.uid == getuid()
        }
        guard case .tcp(let ourHost, let ourPort)? = try? socket.localAddress(),
            case .tcp(let theirHost, let theirPort)? = try? socket.peerAddress()
        else { return false }
        // Off the reactor thread: the table can have thousands of rows.
        return await Task.detached {
            guard let entry = LoopbackConnectionOwner.entry(local: (theirHost, theirPort), remote: (ourHost, ourPort))
            else { return false }
            return LoopbackConnectionOwner.process(getppid(), holdsSocket: entry.inode) || entry.uid == getuid()
        }.value
    }

    /// From now on what this process writes to fds 1 and 2 goes to the host over streams 3 and 5.
    /// The original stderr stays open: what the process writes to fd 2 while dying (a fatal
    /// error's message, a crash report) or just before it exits goes there, and the host reads
    /// it to the end (see ``ProcessControl/redirectStandardOutputAndError(on:)``).
    static func forwardStandardOutputAndError(to streams: PluginStreams, reactor: Reactor) throws
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
        try? BlockingIO.writeAll(.standardError, message + "\n")
    }
}
