import Foundation
import SystemPackage
import TetherReactor

/// Runs a program to its end with its output captured, for tests and tools that call helpers
/// (`mkfifo`, `python3`, an example host).
///
/// The child is a ``TetherReactor/ChildProcess`` on a reactor of its own, with stdout and stderr
/// written to files (no pipe to drain while waiting), stdin read from a file. Every descriptor is closed and the child reaped before ``run(_:_:input:)`` returns, so
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
    /// (nothing: an empty file, when nil), in a process group of its own, and waits for its end.
    ///
    /// A cancelled wait (a test's time limit) shuts the run's reactor down, which kills the
    /// child's process group and reaps the child, and throws `CancellationError`.
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
        let inputURL = directory.appendingPathComponent("stdin")
        try Data((input ?? "").utf8).write(to: inputURL)
        let inputFile = try FileHandle(forReadingFrom: inputURL)
        defer { try? inputFile.close() }
        files.append(.init(FileDescriptor(rawValue: inputFile.fileDescriptor), as: .standardInput))

        let environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        let status = try await withReactor { [files] reactor in
            // A group of its own: a shutdown after a cancelled wait kills what the program
            // started too (`sh -c`'s commands, a host's plugin), not only the program.
            let child = try ChildProcess.spawn(
                executable: executable, arguments: arguments, environment: environment, files: files,
                newProcessGroup: true, on: reactor)
            let status = try await child.waitForExit()
            try await child.close()
            return status
        }
        let code: Int32 =
            switch status {
            case .exited(let code): code
            case .signaled(let signal, _): 128 + signal
            }
        // Decoded leniently: a crashing program's stderr need not be UTF-8, and its status
        // matters more than the bytes.
        return Result(
            status: code,
            stdout: String(decoding: try Data(contentsOf: outputURL), as: UTF8.self),
            stderr: String(decoding: try Data(contentsOf: errorURL), as: UTF8.self))
    }

    private static func emptyFile(at url: URL) throws -> FileHandle {
        try Data().write(to: url)
        return try FileHandle(forWritingTo: url)
    }
}
