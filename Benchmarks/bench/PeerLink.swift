import SystemPackage
import TetherReactor
import TetherTesting

/// The parent's end of a benchmark: the bench binary re-executed as the peer process, connected
/// over the chosen transport, its stdout on a pipe for the counters it reports.
struct PeerLink {
    let socket: StreamSocket
    let child: ChildProcess
    let output: PipeReader

    /// Starts `bench <command> <arguments>` (`peer` by default) and connects to it over `transport`.
    static func launch(
        _ arguments: [String], over transport: Transport, reactor: Reactor, command: String = "peer"
    ) async throws -> PeerLink {
        let (output, outputWriter) = try reactor.makePipe()
        var files = [ChildProcess.FileMapping(outputWriter.fileDescriptor, as: .standardOutput)]
        let environment = ["PATH=/usr/bin:/bin"]
        let socket: StreamSocket
        let child: ChildProcess
        switch transport {
        case .socketpair:
            let (mine, theirs) = try StreamSocket.makePair(on: reactor)
            files.append(.init(theirs.fileDescriptor, as: FileDescriptor(rawValue: 3)))
            child = try ChildProcess.spawn(
                executable: selfExecutable, arguments: [command] + arguments + ["--fd", "3"],
                environment: environment, files: files, on: reactor)
            try await theirs.close()
            socket = mine
        case .unix, .tcp:
            let address: SocketAddress =
                transport == .unix
                ? .unix(path: "/tmp/tether-bench-\(UInt64.random(in: 0...UInt64.max)).sock")
                : .tcp(host: "127.0.0.1", port: 0)
            let listener = try Listener.listen(on: address, reactor: reactor)
            child = try ChildProcess.spawn(
                executable: selfExecutable,
                arguments: [command] + arguments + ["--connect", PeerCommand.encode(listener.address)],
                environment: environment, files: files, on: reactor)
            socket = try await listener.accept()
            try await listener.close()
        }
        try await outputWriter.close()
        return PeerLink(socket: socket, child: child, output: output)
    }

    /// Waits for the peer to exit successfully and returns what it printed.
    func finish() async throws -> String {
        var text: [UInt8] = []
        while let slice = try await output.read() { text += slice.bytes }
        let status = try await child.waitForExit()
        try await output.close()
        try await child.close()
        try await socket.close()
        guard status == .exited(code: 0) else {
            throw BenchError("peer \(status): \(String(decoding: text, as: UTF8.self))")
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// The running binary, re-executed as the peer process.
let selfExecutable = "/proc/self/exe"

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
