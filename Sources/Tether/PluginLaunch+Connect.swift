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
        let address: SocketAddress
        switch handshake.network {
        case .unix:
            address = .unix(path: handshake.address)
        case .tcp:
            guard let colon = handshake.address.lastIndex(of: ":"),
                let port = UInt16(handshake.address[handshake.address.index(after: colon)...])
            else { throw PluginError(.malformedHandshake, "tcp address \"\(handshake.address)\" has no port") }
            address = .tcp(host: String(handshake.address[..<colon]), port: port)
        }
        do {
            return try await StreamSocket.connect(to: address, on: reactor)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            if let exhausted = PluginError.descriptorsExhausted(error, while: "connecting to \(handshake.address)") {
                throw exhausted
            }
            throw PluginError(.launchFailed, "connecting to \(handshake.address): \(error)")
        }
    }

    /// Checks that the process at the other end of `socket` is the plugin: `peerMismatch` when
    /// it is not. The socket stays the caller's, to close.
    func checkPeer(of socket: StreamSocket, handshake: HandshakeLine) async throws {
        let peerProcessID: Int32
        do {
            peerProcessID = try await listeningProcess(of: socket, network: handshake.network)
        } catch {
            try Task.checkCancellation()
            throw PluginError(.launchFailed, "peer check: \(error)")
        }
        guard peerProcessID == process.pid else {
            throw PluginError(
                .peerMismatch,
                peerProcessID < 0
                    ? "no socket of the plugin \(process.pid) serves \(handshake.address)"
                    : "\(handshake.address) is served by process \(peerProcessID), not the plugin \(process.pid)")
        }
    }

    /// The process at the other end of `socket`: `SO_PEERCRED` for unix sockets; for loopback TCP,
    /// the process holding the listening socket or, once the plugin accepted (and closed its
    /// listener), the accepted one. Between the two the plugin's socket has no inode yet, so the
    /// lookup is retried briefly (backing off). -1 when no process of ours holds it.
    private func listeningProcess(of socket: StreamSocket, network: HandshakeLine.Network) async throws -> Int32 {
        if network == .unix { return try socket.peerCredentials().pid }
        guard case .tcp(let ourHost, let ourPort) = try socket.localAddress(),
            case .tcp(let theirHost, let theirPort) = try socket.peerAddress()
        else { return -1 }
        let pid = process.pid
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
