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
