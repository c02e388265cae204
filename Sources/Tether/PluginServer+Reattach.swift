import Synchronization
import TetherMux
import TetherRPC
import TetherReactor

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension PluginServer {
    /// The line a debug-mode plugin prints instead of the handshake: its reattach configuration
    /// under the built-in plugin's name when it serves one (``builtInPluginVariable``), else under
    /// its executable's file name (``ReattachConfiguration/debugLine(name:_:)``).
    static func debugLine(_ line: HandshakeLine, names: Set<String>, environment: [String: String]) -> String {
        let executable = CommandLine.arguments.first ?? "plugin"
        let name =
            environment[builtInPluginVariable].flatMap { $0.isEmpty ? nil : $0 }
            ?? executable.split(separator: "/").last.map(String.init) ?? executable
        let configuration = ReattachConfiguration(
            appVersion: line.appVersion, network: line.network, address: line.address,
            pid: ProcessInfo.processInfo.processIdentifier, plugins: names.sorted(), debug: true)
        return ReattachConfiguration.debugLine(name: name, configuration)
    }

    /// A reattachable plugin's life: accepts a host (its parent or its user, as a launched plugin
    /// does), serves its session, and when that ends without a quit request (the host detached,
    /// crashed or was killed) accepts the next; the listener stays open meanwhile, so the next
    /// host's connect waits in the backlog. A host's quit request ends it: the listener closes
    /// (removing the socket), and the socket directory the host made goes too when empty.
    ///
    /// - Parameter forwardOutput: stdout and stderr go to each host over streams 3 and 5 (false
    ///   in debug mode: they stay on the terminal and those streams end at once).
    static func serveHostsInTurn(
        server: RPCServer, listener: Listener, mux: MuxConfiguration, reactor: Reactor, forwardOutput: Bool,
        socketDirectory: String?
    ) async -> Int32 {
        var status: Int32 = 0
        while true {
            let socket: StreamSocket
            do {
                socket = try await acceptNextHost(on: listener)
            } catch {
                reportToStandardError("plugin: \(error)")
                status = 1
                break
            }
            if await serveSession(
                on: socket, server: server, mux: mux, reactor: reactor, forwardOutput: forwardOutput)
            {
                break
            }
        }
        try? await listener.close()
        if let socketDirectory, (try? FileManager.default.contentsOfDirectory(atPath: socketDirectory))?.isEmpty == true
        {
            try? FileManager.default.removeItem(atPath: socketDirectory)
        }
        return status
    }

    /// The next connection from a host; the listener stays open.
    private static func acceptNextHost(on listener: Listener) async throws -> StreamSocket {
        while true {
            let socket = try await listener.accept()
            if await isFromHost(socket) { return socket }
            try await socket.close()
        }
    }

    /// Serves one host's session until it ends; true when the host asked the plugin to quit. A
    /// session that fails is reported on stderr and the plugin waits for the next host.
    private static func serveSession(
        on socket: StreamSocket, server: RPCServer, mux: MuxConfiguration, reactor: Reactor, forwardOutput: Bool
    ) async -> Bool {
        let quit = QuitRequest()
        do {
            let session = try await MuxSession(socket: socket, role: .server, configuration: mux)
            let streams: PluginStreams
            do {
                streams = try await PluginStreams.accept(on: session)
            } catch {
                await session.close()
                throw error
            }
            var forwarding: Task<Void, Never>?
            if forwardOutput {
                forwarding = try forwardStandardOutputAndError(to: streams, reactor: reactor)
            } else {
                try? await streams.standardOutput.closeWrite()
                try? await streams.standardError.closeWrite()
            }
            let control = Task(executorPreference: reactor) {
                if await ControlRecord.answerPings(on: streams.control) {
                    quit.set()
                    await session.close()
                }
            }
            await server.serve(session)
            forwarding?.cancel()
            control.cancel()
            if forwardOutput { ProcessControl.restoreStandardError() }
            await session.close()
            await control.value
        } catch {
            if forwardOutput { ProcessControl.restoreStandardError() }
            reportToStandardError("plugin: a host's session failed: \(error)")
        }
        return quit.isSet
    }
}

/// Set when a host asks the plugin to quit.
private final class QuitRequest: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}
