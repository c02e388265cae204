import TetherReactor

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension PluginLaunch {
    /// Connects to the address of `handshake`. Cancelling the caller (the start's deadline)
    /// cancels the connect, which closes its socket.
    func connect(to handshake: HandshakeLine) async throws -> StreamSocket {
        try await PluginConnection.connect(
            network: handshake.network, address: handshake.address, on: reactor, failure: .launchFailed)
    }

    /// Checks that the process at the other end of `socket` is the plugin: `peerMismatch` when
    /// it is not. The socket stays the caller's, to close.
    func checkPeer(of socket: StreamSocket, handshake: HandshakeLine) async throws {
        try await PluginConnection.checkPeer(
            of: socket, pid: process.pid, network: handshake.network, address: handshake.address, on: reactor)
    }
}

/// Connecting to a plugin's address and checking who serves it: for a launch and a reattach alike.
enum PluginConnection {
    /// Connects to `address`. Cancelling the caller cancels the connect, which closes its socket.
    ///
    /// - Throws: `failure` (or `tooManyOpenFiles`) naming the system's error; `malformedHandshake`
    ///   for a TCP address without a port.
    static func connect(
        network: HandshakeLine.Network, address text: String, on reactor: Reactor, failure: PluginError.Code
    ) async throws -> StreamSocket {
        let address: SocketAddress
        switch network {
        case .unix:
            address = .unix(path: text)
        case .tcp:
            guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
                throw PluginError(.malformedHandshake, "tcp address \"\(text)\" has no port")
            }
            address = .tcp(host: String(text[..<colon]), port: port)
        }
        do {
            return try await StreamSocket.connect(to: address, on: reactor)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            if let exhausted = PluginError.descriptorsExhausted(error, while: "connecting to \(text)") {
                throw exhausted
            }
            throw PluginError(failure, "connecting to \(text): \(error)")
        }
    }

    /// Checks that the process at the other end of `socket` is `pid`: `peerMismatch` when it is
    /// not. The socket stays the caller's, to close.
    static func checkPeer(
        of socket: StreamSocket, pid: Int32, network: HandshakeLine.Network, address: String, on reactor: Reactor
    ) async throws {
        let peerProcessID: Int32
        do {
            peerProcessID = try await listeningProcess(of: socket, expected: pid, network: network, on: reactor)
        } catch {
            try Task.checkCancellation()
            throw PluginError(.launchFailed, "peer check: \(error)")
        }
        guard peerProcessID == pid else {
            throw PluginError(
                .peerMismatch,
                peerProcessID < 0
                    ? "no socket of the plugin \(pid) serves \(address)"
                    : "\(address) is served by process \(peerProcessID), not the plugin \(pid)")
        }
    }

    /// The process at the other end of `socket`: `SO_PEERCRED` for unix sockets; for loopback TCP,
    /// `expected` when it holds the listening socket or, once the plugin accepted (and, launched
    /// for one host, closed its listener), the accepted one. Between the two the plugin's socket
    /// has no inode yet, so the lookup is retried briefly (backing off). -1 when `expected` holds
    /// neither.
    private static func listeningProcess(
        of socket: StreamSocket, expected pid: Int32, network: HandshakeLine.Network, on reactor: Reactor
    ) async throws -> Int32 {
        if network == .unix { return try socket.peerCredentials().pid }
        guard case .tcp(let ourHost, let ourPort) = try socket.localAddress(),
            case .tcp(let theirHost, let theirPort) = try socket.peerAddress()
        else { return -1 }
        var pause = Duration.milliseconds(1)
        for _ in 0..<10 {  // 1 + 2 + … + 512 ms, about a second: the plugin accepts as soon as it runs
            // Off the reactor thread: the table can have thousands of rows.
            let held = await Task.detached {
                LoopbackConnectionOwner.sockets(local: (theirHost, theirPort)).contains { socket in
                    (socket.entry.listening || (socket.remote.host == ourHost && socket.remote.port == ourPort))
                        && LoopbackConnectionOwner.process(pid, holdsSocket: socket.entry.inode)
                }
            }.value
            if held { return pid }
            try await reactor.sleep(for: pause)
            pause *= 2
        }
        return -1
    }
}
