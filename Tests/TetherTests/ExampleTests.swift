import Foundation
import Testing
import TetherTesting

// Nested in PluginLaunchTests to share its `.serialized`: the leak checks there count this
// process's children and descriptors, and the kv-host child would show up in them.
extension PluginLaunchTests {
    /// Examples/KeyValue, run as a user would: `kv-host demo` starts `kv-plugin` from beside
    /// itself; `kv-host demo --built-in` starts its own built-in plugin `memory` (kv-host again),
    /// with the same results.
    @Suite(.timeLimit(.minutes(1)))
    struct ExampleTests {
        @Test(arguments: [("kv-plugin", [String]()), ("memory", ["--built-in"])])
        func keyValueDemo(plugin: String, options: [String]) async throws {
            let result = try await ChildRun.run(TestExecutables.path("kv-host"), ["demo"] + options)
            #expect(result.status == 0, "stderr:\n\(result.stderr)")
            #expect(
                result.stdout.split(separator: "\n", omittingEmptySubsequences: false) == [
                    "put a = 1", "put a1 = x", "put b = 2",
                    "get a = 1", "get c = nil",
                    "delete b = true", "delete b = false",
                    // The current entries in key order, then the writes made while watching.
                    "watch a = 1", "watch a1 = x", "watch a2 = y", "watch a1 deleted", "watch a = 10",
                    "watch stopped after 5 changes",
                    "loaded 1000", "get bulk/999 = v999",
                    "plugin exited with status 0", "",
                ])
            // The plugin's hclog line for a put, as a swift-log record with its key as metadata.
            let putRecord = result.stderr.split(separator: "\n").first { line in
                line.contains(" info kv-plugin: key=a1 ") && line.contains(" plugin.name=\(plugin) ")
                    && line.hasSuffix("] put")
            }
            #expect(putRecord != nil, "stderr:\n\(result.stderr)")
        }
    }
}

/// Runs an executable to its end with stdout and stderr captured in files (no pipe to drain while
/// waiting) and without blocking a thread.
enum ChildRun {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ executable: String, _ arguments: [String]) async throws -> Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kv-host-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outputURL = directory.appendingPathComponent("stdout")
        let errorURL = directory.appendingPathComponent("stderr")
        let output = try emptyFile(at: outputURL)
        let error = try emptyFile(at: errorURL)
        defer {
            try? output.close()
            try? error.close()
        }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = error
        let status = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int32, any Error>) in
                process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
                do {
                    try process.run()
                } catch {
                    process.terminationHandler = nil
                    continuation.resume(throwing: error)
                }
            }
        } onCancel: {
            // The time limit passed: do not leave the host (and its plugin) running. (terminate()
            // before run() would signal pid 0, this whole process group.)
            if process.isRunning { process.terminate() }
        }
        return Result(
            status: status,
            stdout: try String(contentsOf: outputURL, encoding: .utf8),
            stderr: try String(contentsOf: errorURL, encoding: .utf8))
    }

    private static func emptyFile(at url: URL) throws -> FileHandle {
        try Data().write(to: url)
        return try FileHandle(forWritingTo: url)
    }
}
