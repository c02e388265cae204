import SystemPackage
import TetherReactor
import TetherTesting

/// Two Go yamux peer processes connected by a socketpair: the Go → Go baseline of `--peer go`.
enum GoPair {
    /// Runs the Go `server` and `client` scenarios against each other and returns the client's
    /// stdout (its result line) and the server's.
    /// With `until`, both processes are killed once each has printed a line starting with it (for
    /// scenarios that report and then hold their streams open until the peer goes away).
    static func run(server: [String], client: [String], until marker: String? = nil, reactor: Reactor) async throws
        -> (client: String, server: String)
    {
        guard GoYamuxPeer.isAvailable else { throw BenchError("--peer go needs `make go-peer`") }
        let (a, b) = try StreamSocket.makePair(on: reactor)
        let serverProcess = try OutputProcess.spawn(
            GoYamuxPeer.executablePath, ["-role", "server", "-fd", "3"] + server,
            files: [.init(a.fileDescriptor, as: FileDescriptor(rawValue: 3))], reactor: reactor)
        let clientProcess = try OutputProcess.spawn(
            GoYamuxPeer.executablePath, ["-role", "client", "-fd", "3"] + client,
            files: [.init(b.fileDescriptor, as: FileDescriptor(rawValue: 3))], reactor: reactor)
        try await a.close()
        try await b.close()
        try await clientProcess.closeWriteEnds()
        try await serverProcess.closeWriteEnds()
        async let clientText = readAll(clientProcess.output, until: marker)
        async let serverText = readAll(serverProcess.output, until: marker)
        let (clientResult, serverResult) = try await (clientText, serverText)
        if marker != nil {
            try? clientProcess.process.send(signal: 9)
            try? serverProcess.process.send(signal: 9)
        }
        let clientStatus = try await clientProcess.finish()
        let serverStatus = try await serverProcess.finish()
        guard marker != nil || (clientStatus == .exited(code: 0) && serverStatus == .exited(code: 0)) else {
            throw BenchError("go pair: client \(clientStatus) \(clientResult); server \(serverStatus) \(serverResult)")
        }
        return (clientResult, serverResult)
    }

    /// Everything `reader` delivers, or, with `marker`, up to the end of the first line starting with it.
    static func readAll(_ reader: PipeReader, until marker: String? = nil) async throws -> String {
        var bytes: [UInt8] = []
        while let slice = try await reader.read() {
            bytes += slice.bytes
            if let marker {
                let text = String(decoding: bytes, as: UTF8.self)
                if text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().contains(where: {
                    $0.hasPrefix(marker)
                }) {
                    break
                }
            }
        }
        try await reader.close()
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `key=value` fields of the first line of `output` that starts with `prefix`.
    static func fields(_ output: String, line prefix: String) -> [String: Double] {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return [:] }
        var result: [String: Double] = [:]
        for field in line.split(separator: " ") {
            let parts = field.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let value = Double(parts[1]) { result[String(parts[0])] = value }
        }
        return result
    }
}

/// A peer process with its stdout (and, when asked, its stderr) on pipes the bench reads.
struct OutputProcess {
    let process: ChildProcess
    let output: PipeReader
    let errors: PipeReader?
    private let writers: [PipeWriter]

    /// Spawns `executable` with `files` mapped in, stdout on a pipe, and stderr on one too with
    /// `capturingErrors` (else inherited). Call ``closeWriteEnds()`` once every process that
    /// should hold the pipes has been spawned.
    static func spawn(
        _ executable: String, _ arguments: [String], files: [ChildProcess.FileMapping] = [],
        capturingErrors: Bool = false, reactor: Reactor
    ) throws -> OutputProcess {
        let (output, outputWriter) = try reactor.makePipe()
        var mappings = files + [.init(outputWriter.fileDescriptor, as: .standardOutput)]
        var writers = [outputWriter]
        var errors: PipeReader?
        if capturingErrors {
            let (reader, writer) = try reactor.makePipe()
            mappings.append(.init(writer.fileDescriptor, as: .standardError))
            writers.append(writer)
            errors = reader
        }
        let process = try ChildProcess.spawn(
            executable: executable, arguments: arguments, environment: ["PATH=/usr/bin:/bin"], files: mappings,
            on: reactor)
        return OutputProcess(process: process, output: output, errors: errors, writers: writers)
    }

    /// Closes this side's copies of the pipes' write ends, so the pipes end with the process.
    func closeWriteEnds() async throws {
        for writer in writers { try await writer.close() }
    }

    /// Waits for the exit, closes the process handle and returns the status.
    func finish() async throws -> ExitStatus {
        let status = try await process.waitForExit()
        try await process.close()
        return status
    }
}
