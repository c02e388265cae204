import Foundation
import SystemPackage
import TetherReactor

/// A peer program run as a child process on one end of a socketpair (its fd 3), for interop
/// tests and cross-process tests: the Go yamux peer, test plugins.
public struct SocketPeerProcess: Sendable {
    public let process: ChildProcess
    public let output: PipeReader
    /// Our end of the connection.
    public let socket: StreamSocket

    /// Starts `executable` with `arguments`, its fd 3 one end of a socketpair whose other end is
    /// ``socket``, its stdout on a pipe (``output``).
    public static func start(executable: String, arguments: [String], on reactor: Reactor) async throws
        -> SocketPeerProcess
    {
        let (mine, theirs) = try StreamSocket.makePair(on: reactor)
        let (output, outputWriter) = try reactor.makePipe()
        // A sanitized test build starts sanitized peers: they get the run's sanitizer options
        // (report paths, suppressions), as the test process does.
        let sanitizerOptions = ProcessInfo.processInfo.environment.filter {
            ["ASAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS", "UBSAN_OPTIONS"].contains($0.key)
        }.map { "\($0.key)=\($0.value)" }
        let process = try ChildProcess.spawn(
            executable: executable, arguments: arguments,
            environment: ["PATH=/usr/bin:/bin"] + sanitizerOptions.sorted(),
            files: [
                .init(theirs.fileDescriptor, as: FileDescriptor(rawValue: 3)),
                .init(outputWriter.fileDescriptor, as: .standardOutput),
            ],
            on: reactor)
        try await theirs.close()
        try await outputWriter.close()
        return SocketPeerProcess(process: process, output: output, socket: mine)
    }

    /// Waits (at most `timeout`) for the peer to exit; returns its status and stdout. A peer still
    /// running then is killed, so a test can never hang on it.
    public func finish(timeout: Duration = .seconds(90)) async throws -> (ExitStatus, String) {
        let reactor = process.reactor
        let process = self.process
        let watchdog = Task(executorPreference: reactor) {
            try await reactor.sleep(for: timeout)
            try? process.send(signal: 9)
        }
        var text: [UInt8] = []
        while let slice = try await output.read() { text += slice.bytes }
        let status = try await process.waitForExit()
        watchdog.cancel()
        try await output.close()
        try await process.close()
        return (status, String(decoding: text, as: UTF8.self))
    }
}
