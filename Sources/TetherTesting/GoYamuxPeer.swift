import Foundation
import SystemPackage
import TetherReactor

/// The hashicorp/yamux peer program (`Benchmarks/peers/goyamux`, built by `make go-peer`) run as
/// a child process on one end of a socketpair, for interop tests and benchmarks.
public struct GoYamuxPeer: Sendable {
    /// Where `make go-peer` puts the binary, or `TETHER_GO_PEER` if set.
    public static var executablePath: String {
        if let path = ProcessInfo.processInfo.environment["TETHER_GO_PEER"] { return path }
        // Sources/TetherTesting/GoYamuxPeer.swift → the package root.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/go/goyamux-peer").path
    }

    /// True when the binary exists. Tests may skip without it only outside CI.
    public static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: executablePath) }

    /// True when interop tests must run (CI sets `CI`), or the peer is there to run them.
    public static var shouldRun: Bool { isAvailable || ProcessInfo.processInfo.environment["CI"] != nil }

    public let process: ChildProcess
    public let output: PipeReader
    /// Our end of the connection.
    public let socket: StreamSocket

    /// Starts the peer with `arguments` (role, scenario, options), connected to us by a socketpair.
    public static func start(_ arguments: [String], on reactor: Reactor) async throws -> GoYamuxPeer {
        let (mine, theirs) = try StreamSocket.makePair(on: reactor)
        let (output, outputWriter) = try reactor.makePipe()
        let process = try ChildProcess.spawn(
            executable: executablePath, arguments: arguments + ["-fd", "3", "-timeout", "60s"],
            environment: ["PATH=/usr/bin:/bin"],
            files: [
                .init(theirs.fileDescriptor, as: FileDescriptor(rawValue: 3)),
                .init(outputWriter.fileDescriptor, as: .standardOutput),
            ],
            on: reactor)
        try await theirs.close()
        try await outputWriter.close()
        return GoYamuxPeer(process: process, output: output, socket: mine)
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
