import ArgumentParser
import SystemPackage
import TetherReactor

/// The peer process of a benchmark (started by the bench itself, not by users).
struct PeerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peer", abstract: "Internal: the other process of a benchmark.", shouldDisplay: false)

    enum Role: String, ExpressibleByArgument {
        case bulkSend = "bulk-send", echo
        case muxSink = "mux-sink", muxEcho = "mux-echo"
        case connectionEcho = "connection-echo"
        case muxIdle = "mux-idle"
        case rpcServe = "rpc-serve"
    }
    enum Mode: String, ExpressibleByArgument, CaseIterable { case reactor, blocking }

    @Argument var role: Role
    @Option var mode: Mode = .reactor
    @Option var bytes: Int = 0
    @Option var chunkBytes: Int = 64 * 1024
    @Option var messageBytes: Int = 64
    @Option var streams = 0
    @Option var fd: Int32?
    @Option var connect: String?
    @Option(help: "connection-echo: also accept connections on this address.") var listen: String?

    func run() async throws {
        let reactor = try Reactor.start(configuration: benchReactorConfiguration)
        try await withTaskExecutorPreference(reactor) {
            let socket = try await Self.openSocket(fd: fd, connect: connect, on: reactor)
            let before = await reactor.counters()
            switch role {
            case .bulkSend: try await bulkSend(socket, reactor: reactor)
            case .echo: try await echo(socket)
            case .muxSink, .muxEcho:
                try await MuxPeer.serve(socket: socket, echo: role == .muxEcho, reactor: reactor)
            case .muxIdle:
                try await MuxPeer.holdIdleStreams(socket: socket, count: streams, reactor: reactor)
            case .rpcServe:
                try await MuxPeer.serveRPC(socket: socket)
            case .connectionEcho:
                try await MuxPeer.serveConnections(first: socket, listenOn: listen, reactor: reactor)
            }
            let after = await reactor.counters()
            print(CounterDelta(before: before, after: after).line)
            PeakDescriptors.sample()
            print("rss \(MemoryUsage.residentBytes())")
            print("peakfds \(PeakDescriptors.value)")
            try? await socket.close()
        }
        await reactor.shutdown()
    }

    /// The peer's end of the connection: the inherited descriptor `fd`, or a connection to the
    /// address `connect` names.
    static func openSocket(fd: Int32?, connect: String?, on reactor: Reactor) async throws -> StreamSocket {
        if let fd { return StreamSocket.adopting(FileDescriptor(rawValue: fd), on: reactor) }
        guard let connect, let address = decode(connect) else { throw ValidationError("need --fd or --connect") }
        return try await StreamSocket.connect(to: address, on: reactor)
    }

    /// Waits for the parent's go byte, then sends `bytes` in `chunkBytes` writes and closes.
    private func bulkSend(_ socket: StreamSocket, reactor: Reactor) async throws {
        let chunk = BufferSlice(count: chunkBytes) { span in
            for index in span.indices { span[index] = UInt8(truncatingIfNeeded: index) }
        }
        switch mode {
        case .reactor:
            _ = try await socket.receive()
            var sent = 0
            while sent < bytes {
                let slice = bytes - sent >= chunk.count ? chunk : chunk.slice(0..<(bytes - sent))
                try await socket.send(slice)
                sent += slice.count
            }
        case .blocking:
            let scratch = ScratchBuffer(capacity: 16)
            _ = try BlockingIO.read(socket.fileDescriptor, into: scratch)
            var sent = 0
            while sent < bytes {
                let slice = bytes - sent >= chunk.count ? chunk : chunk.slice(0..<(bytes - sent))
                try BlockingIO.writeAll(socket.fileDescriptor, slice)
                sent += slice.count
            }
        }
        try socket.shutdownWriting()
    }

    /// Echoes every `messageBytes` message until end of stream.
    private func echo(_ socket: StreamSocket) async throws {
        switch mode {
        case .reactor:
            while let slice = try await socket.receive() { try await socket.send(slice) }
        case .blocking:
            let scratch = ScratchBuffer(capacity: 64 * 1024)
            while true {
                let count = try BlockingIO.read(socket.fileDescriptor, into: scratch)
                if count == 0 { return }
                try BlockingIO.writeAll(socket.fileDescriptor, scratch.slice(count: count))
            }
        }
    }

    static func encode(_ address: SocketAddress) -> String {
        switch address {
        case .unix(let path): "unix:\(path)"
        case .tcp(let host, let port): "tcp:\(host):\(port)"
        }
    }

    static func decode(_ text: String) -> SocketAddress? {
        if text.hasPrefix("unix:") { return .unix(path: String(text.dropFirst(5))) }
        guard text.hasPrefix("tcp:"), let colon = text.lastIndex(of: ":"),
            let port = UInt16(text[text.index(after: colon)...])
        else { return nil }
        return .tcp(host: String(text[text.index(text.startIndex, offsetBy: 4)..<colon]), port: port)
    }
}

/// Reactor settings shared by both benchmark processes: 64 KiB buffers, as the C baseline uses.
let benchReactorConfiguration: ReactorConfiguration = {
    var configuration = ReactorConfiguration()
    configuration.receiveBufferCount = 64
    configuration.receiveBufferBytes = 64 * 1024
    configuration.maxQueuedBuffersPerHandle = 32
    return configuration
}()

/// What a reactor did during one measurement.
struct CounterDelta {
    var enters: Double
    var completions: Double
    var submissions: Double
    var bytes: Double

    init(before: ReactorCounters, after: ReactorCounters) {
        enters = Double(after.enterCalls - before.enterCalls)
        completions = Double(after.completions - before.completions)
        submissions = Double(after.submissions - before.submissions)
        bytes = Double((after.bytesIn - before.bytesIn) + (after.bytesOut - before.bytesOut))
    }

    init?(line: String) {
        let fields = line.split(separator: " ")
        guard fields.count == 5, fields[0] == "counters",
            let enters = Double(fields[1]), let completions = Double(fields[2]),
            let submissions = Double(fields[3]), let bytes = Double(fields[4])
        else { return nil }
        self.enters = enters
        self.completions = completions
        self.submissions = submissions
        self.bytes = bytes
    }

    var line: String { "counters \(enters) \(completions) \(submissions) \(bytes)" }
    var entersPerMebibyte: Double { bytes > 0 ? enters / (bytes / 1_048_576) : 0 }
    var completionsPerEnter: Double { enters > 0 ? completions / enters : 0 }
}
