import Foundation
import MetricsTestKit
import RPCFixtures
import Testing
import Tether
import TetherTesting

// Nested in PluginLaunchTests to share its `.serialized`: its leak checks count this process's
// children, and the plugins started here would show up in them.
extension PluginLaunchTests {
    /// The plugin runtime's metrics: launches, start durations and failures, and exits by kind.
    @Suite(.timeLimit(.minutes(1)))
    struct PluginMetricsTests {
        @Test func launchesStartsAndExitsAreCounted() async throws {
            try await withoutLeaks { reactor in
                let metrics = TestMetrics()
                func counted(_ mode: String) -> PluginClientConfiguration {
                    var counted = configuration(mode: mode)
                    counted.metricsFactory = metrics
                    counted.shutdownGrace = .milliseconds(300)
                    return counted
                }
                // Quits when the host asks: a clean exit. (The pong says it is serving: asked to
                // quit before it has taken its streams, it exits with status 1.)
                let serving = try await PluginClient.start(counted("serve"), on: reactor)
                _ = try await serving.ping()
                await serving.stop()
                // Ignores the request and SIGTERM: the host's SIGKILL ends it.
                let stubborn = try await PluginClient.start(counted("stubborn"), on: reactor)
                await stubborn.stop()
                // Raises SIGSEGV on a put, unasked.
                let crashing = try await PluginClient.start(counted("crash-segv"), on: reactor)
                let kv = try crashing.dispense(KeyValueClient.self, name: "kv")
                _ = try? await kv.put("k", value: Data("v".utf8))
                #expect(try await eventually(on: reactor) { metrics.counterTotal(label: "tether_plugin_exits") == 3 })
                await crashing.stop()
                // Exits with status 3 before its handshake: a failed start.
                _ = await expectStartFails(.exitedBeforeHandshake, counted("exit-early"), on: reactor)

                let plugin = [("plugin", "tether-test-plugin")]
                func exits(_ kind: String, expected: Bool) -> Int64 {
                    metrics.counterTotal(
                        label: "tether_plugin_exits",
                        dimensions: plugin + [("kind", kind), ("expected", expected ? "true" : "false")])
                }
                #expect(metrics.counterTotal(label: "tether_plugin_launches", dimensions: plugin) == 4)
                #expect(try metrics.expectTimer("tether_plugin_start_duration", plugin).values.count == 3)
                #expect(
                    metrics.counterTotal(
                        label: "tether_plugin_start_failures", dimensions: plugin + [("code", "exitedBeforeHandshake")])
                        == 1)
                #expect(exits("clean", expected: true) == 1)
                #expect(exits("killed", expected: true) == 1)
                #expect(exits("signal", expected: false) == 1)
                #expect(exits("failed", expected: true) == 1)
                #expect(metrics.counterTotal(label: "tether_plugin_exits") == 4)
            }
        }

        /// A start that fails before anything was spawned is counted by its code, with no launch.
        @Test func aMissingExecutableIsAStartFailureWithoutALaunch() async throws {
            try await withoutLeaks { reactor in
                let metrics = TestMetrics()
                var missing = configuration()
                missing.executable = "/nonexistent/kv-plugin"
                missing.metricsFactory = metrics
                _ = await expectStartFails(.executableNotFound, missing, on: reactor)
                let plugin = [("plugin", "kv-plugin")]
                #expect(
                    metrics.counterTotal(
                        label: "tether_plugin_start_failures", dimensions: plugin + [("code", "executableNotFound")])
                        == 1)
                #expect(metrics.counterTotal(label: "tether_plugin_launches") == 0)
            }
        }
    }
}
