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
        let (serverOutput, serverWriter) = try reactor.makePipe()
        let (clientOutput, clientWriter) = try reactor.makePipe()
        let serverProcess = try ChildProcess.spawn(
            executable: GoYamuxPeer.executablePath, arguments: ["-role", "server", "-fd", "3"] + server,
            environment: ["PATH=/usr/bin:/bin"],
            files: [
                .init(a.fileDescriptor, as: FileDescriptor(rawValue: 3)),
                .init(serverWriter.fileDescriptor, as: .standardOutput),
            ],
            on: reactor)
        let clientProcess = try ChildProcess.spawn(
            executable: GoYamuxPeer.executablePath, arguments: ["-role", "client", "-fd", "3"] + client,
            environment: ["PATH=/usr/bin:/bin"],
            files: [
                .init(b.fileDescriptor, as: FileDescriptor(rawValue: 3)),
                .init(clientWriter.fileDescriptor, as: .standardOutput),
            ],
            on: reactor)
        try await a.close()
        try await b.close()
        try await serverWriter.close()
        try await clientWriter.close()
        async let clientText = readAll(clientOutput, until: marker)
        async let serverText = readAll(serverOutput, until: marker)
        let (clientResult, serverResult) = try await (clientText, serverText)
        if marker != nil {
            try? clientProcess.send(signal: 9)
            try? serverProcess.send(signal: 9)
        }
        let clientStatus = try await clientProcess.waitForExit()
        let serverStatus = try await serverProcess.waitForExit()
        try await clientProcess.close()
        try await serverProcess.close()
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
