import Foundation
import SystemPackage
import TetherReactor

/// Runs a program to its end with its output captured, for tests and tools that call helpers
/// (`mkfifo`, `python3`, an example host).
///
/// The child is a ``TetherReactor/ChildProcess`` on a reactor of its own, with stdout and stderr
/// written to files (no pipe to drain while waiting), stdin read from a file when `input` is
/// given. Every descriptor is closed and the child reaped before ``run(_:_:input:)`` returns, so
/// a leak check right after it counts nothing of the run. Foundation's `Process` gives no such
/// guarantee: it reports the exit (to `waitUntilExit` and the termination handler) before its
/// manager thread closes the socket it watched the child through.
public enum ChildRun {
    /// How a run ended and what it wrote.
    public struct Result: Sendable, CustomStringConvertible {
        /// The exit code, or 128 plus the signal for a child killed by one (as a shell reports it).
        public var status: Int32
        public var stdout: String
        public var stderr: String

        public var description: String {
            "status \(status), stdout \(stdout.debugDescription), stderr \(stderr.debugDescription)"
        }
    }

    /// Runs `executable` with `arguments` and this process's environment, `input` on its stdin
    /// (or this process's stdin when nil), and waits for its end.
    ///
    /// A cancelled wait (a test's time limit) shuts the run's reactor down, which kills and reaps
    /// the child, and throws `CancellationError`.
    /// - Throws: ``TetherReactor/ReactorError`` when the program cannot be started, or an error
    ///   creating or reading the capture files.
    public static func run(_ executable: String, _ arguments: [String], input: String? = nil) async throws -> Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tether-child-run-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outputURL = directory.appendingPathComponent("stdout")
        let errorURL = directory.appendingPathComponent("stderr")
        let output = try emptyFile(at: outputURL)
        defer { try? output.close() }
        let error = try emptyFile(at: errorURL)
        defer { try? error.close() }
        var files: [ChildProcess.FileMapping] = [
            .init(FileDescriptor(rawValue: output.fileDescriptor), as: .standardOutput),
            .init(FileDescriptor(rawValue: error.fileDescriptor), as: .standardError),
        ]
        var inputFile: FileHandle?
        defer { try? inputFile?.close() }
        if let input {
            let inputURL = directory.appendingPathComponent("stdin")
            try Data(input.utf8).write(to: inputURL)
            let handle = try FileHandle(forReadingFrom: inputURL)
            inputFile = handle
            files.append(.init(FileDescriptor(rawValue: handle.fileDescriptor), as: .standardInput))
        }

        let environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        let status = try await withReactor { [files] reactor in
            let child = try ChildProcess.spawn(
                executable: executable, arguments: arguments, environment: environment, files: files, on: reactor)
            let status = try await child.waitForExit()
            try await child.close()
            return status
        }
        let code: Int32 =
            switch status {
            case .exited(let code): code
            case .signaled(let signal, _): 128 + signal
            }
        return Result(
            status: code,
            stdout: try String(contentsOf: outputURL, encoding: .utf8),
            stderr: try String(contentsOf: errorURL, encoding: .utf8))
    }

    private static func emptyFile(at url: URL) throws -> FileHandle {
        try Data().write(to: url)
        return try FileHandle(forWritingTo: url)
    }
}
