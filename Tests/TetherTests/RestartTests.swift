import Foundation
import MetricsTestKit
import RPCFixtures
import Testing
import TetherReactor
import TetherTesting

@testable import Tether

/// The restart schedule's arithmetic, without processes or clocks.
struct RestartScheduleTests {
    private func policy(_ change: (inout RestartPolicy) -> Void) -> RestartPolicy {
        var policy = RestartPolicy()
        policy.jitter = 0
        change(&policy)
        return policy
    }

    @Test func backoffGrowsByTheMultiplierUpToTheMaximumThenTheBudgetEnds() {
        var schedule = RestartSchedule(
            policy: policy {
                $0.initialBackoff = .milliseconds(100)
                $0.maximumBackoff = .milliseconds(350)
                $0.maximumRestarts = 5
            })
        var random = SplitMix64(seed: 1)
        let now = ContinuousClock.now
        let delays = (0..<6).map { schedule.nextRestart(at: now + .seconds($0), random: &random) }
        #expect(
            delays == [
                .milliseconds(100), .milliseconds(200), .milliseconds(350), .milliseconds(350), .milliseconds(350), nil,
            ])
    }

    /// Restarts older than the window no longer count: the budget and the backoff start over.
    @Test func theWindowForgetsOldRestarts() {
        var schedule = RestartSchedule(
            policy: policy {
                $0.initialBackoff = .milliseconds(10)
                $0.maximumRestarts = 2
                $0.window = .seconds(60)
            })
        var random = SplitMix64(seed: 1)
        let start = ContinuousClock.now
        #expect(schedule.nextRestart(at: start, random: &random) == .milliseconds(10))
        #expect(schedule.nextRestart(at: start + .seconds(30), random: &random) == .milliseconds(20))
        #expect(schedule.nextRestart(at: start + .seconds(59), random: &random) == nil)
        // The first restart has left the window, the second has not.
        #expect(schedule.nextRestart(at: start + .seconds(60), random: &random) == .milliseconds(20))
        #expect(schedule.nextRestart(at: start + .seconds(200), random: &random) == .milliseconds(10))
    }

    @Test func jitterSpreadsEachWaitWithinItsFraction() throws {
        var random = SplitMix64(seed: 7)
        var delays: Set<Duration> = []
        for _ in 0..<200 {
            var schedule = RestartSchedule(
                policy: policy {
                    $0.initialBackoff = .milliseconds(100)
                    $0.jitter = 0.5
                })
            let delay = try #require(schedule.nextRestart(at: .now, random: &random))
            #expect(delay >= .milliseconds(50) && delay <= .milliseconds(150))
            delays.insert(delay)
        }
        #expect(delays.count > 100, "the waits are spread, not one value")
    }

    @Test func aBudgetOfNoneNeverRestarts() {
        var schedule = RestartSchedule(policy: policy { $0.maximumRestarts = 0 })
        var random = SplitMix64(seed: 1)
        #expect(schedule.nextRestart(at: .now, random: &random) == nil)
    }
}

/// A deterministic generator for the schedule's jitter.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Supervised plugins with real processes: the test plugin's `crash-exit` mode exits with status
/// 1 at every put, so each put is a crash on demand.
extension PluginLaunchTests {
    @Suite(.timeLimit(.minutes(2)))
    struct RestartTests {
        private func policy(_ change: (inout RestartPolicy) -> Void) -> RestartPolicy {
            var policy = RestartPolicy()
            policy.initialBackoff = .milliseconds(1)
            policy.jitter = 0
            change(&policy)
            return policy
        }

        /// Crashes the supervised plugin with a put: the call in flight fails as `pluginExited`.
        private func crash(_ plugin: SupervisedPlugin) async throws {
            let kv = try await plugin.dispense(KeyValueClient.self, name: "kv")
            let error = await #expect(throws: PluginError.self) { try await kv.put("k", value: Data("v".utf8)) }
            #expect(error?.code == .pluginExited, "\(String(describing: error))")
        }

        @Test func aCrashedPluginIsStartedAgainAndServesNewClients() async throws {
            try await withoutLeaks { reactor in
                var crashing = configuration(mode: "crash-exit")
                let recorder = LogRecorder()
                crashing.logger = recorder.logger()
                let metrics = TestMetrics()
                crashing.metricsFactory = metrics
                let plugin = try await SupervisedPlugin.start(crashing, policy: policy { _ in }, on: reactor)
                let first = try await plugin.client().process.pid
                try await crash(plugin)
                let kv = try await plugin.dispense(KeyValueClient.self, name: "kv")
                #expect(try await kv.get("k") == nil, "a new process: the crashed one's store is gone")
                #expect(try await plugin.client().process.pid != first)
                #expect(plugin.restarts == 1)
                #expect(metrics.counterTotal(label: "tether_plugin_restarts") == 1)
                #expect(
                    recorder.all.contains {
                        $0.level == .warning && $0.message.hasPrefix("plugin stopped unexpectedly")
                    })
                await plugin.stop()
                guard case .stopped = plugin.state else {
                    Issue.record("state \(plugin.state) after stop()")
                    return
                }
                let error = await #expect(throws: PluginError.self) { _ = try await plugin.client() }
                #expect(error?.code == .pluginStopped)
            }
        }

        /// Only exits the supervisor asked for are not restarted: a plugin that quits on its own
        /// with status 0 (the test plugin's `quit-on-put` mode, at a put) is started again.
        @Test func aCleanExitTheHostDidNotAskForIsRestarted() async throws {
            try await withoutLeaks { reactor in
                let plugin = try await SupervisedPlugin.start(
                    configuration(mode: "quit-on-put"), policy: policy { _ in }, on: reactor)
                let first = try await plugin.client()
                try await crash(plugin)
                let kv = try await plugin.dispense(KeyValueClient.self, name: "kv")
                #expect(try await kv.get("k") == nil, "a new process: the first one's store is gone")
                #expect(first.exitStatus == .exited(code: 0))
                #expect(try await plugin.client().process.pid != first.process.pid)
                #expect(plugin.restarts == 1)
                await plugin.stop()
            }
        }

        @Test func theSupervisorGivesUpWhenTheBudgetIsSpent() async throws {
            try await withoutLeaks { reactor in
                var crashing = configuration(mode: "crash-exit")
                let metrics = TestMetrics()
                crashing.metricsFactory = metrics
                let plugin = try await SupervisedPlugin.start(
                    crashing, policy: policy { $0.maximumRestarts = 2 }, on: reactor)
                for _ in 0..<3 { try await crash(plugin) }
                #expect(
                    try await eventually(on: reactor) {
                        if case .gaveUp = plugin.state { true } else { false }
                    })
                let error = await #expect(throws: PluginError.self) {
                    _ = try await plugin.dispense(KeyValueClient.self, name: "kv")
                }
                #expect(error?.code == .restartsExhausted)
                #expect(error?.message.contains("exited with status 1") == true, "\(String(describing: error))")
                #expect(plugin.restarts == 2)
                #expect(metrics.counterTotal(label: "tether_plugin_restart_giveups") == 1)
                await plugin.stop()
            }
        }

        /// While the plugin waits out a long backoff, a new client fails fast, or fails once its
        /// wait has passed; `stop()` ends the backoff at once.
        @Test(arguments: [RestartPolicy.WhileRestarting.failFast, .wait(.milliseconds(50))])
        func newClientsDoNotWaitBeyondThePolicy(whileRestarting: RestartPolicy.WhileRestarting) async throws {
            try await withoutLeaks { reactor in
                let plugin = try await SupervisedPlugin.start(
                    configuration(mode: "crash-exit"),
                    policy: policy {
                        $0.initialBackoff = .seconds(600)
                        $0.whileRestarting = whileRestarting
                    }, on: reactor)
                try await crash(plugin)
                #expect(
                    try await eventually(on: reactor) {
                        if case .restarting(restart: 1) = plugin.state { true } else { false }
                    })
                let error = await #expect(throws: PluginError.self) { _ = try await plugin.client() }
                #expect(error?.code == .pluginRestarting)
                // Failing fast is not waiting: only a client that waited says it was not back.
                #expect(error?.message.contains("was not back within") == (whileRestarting != .failFast))
                #expect(try await finishes(within: .seconds(20), on: reactor) { await plugin.stop() })
            }
        }

        /// A client asked for while the plugin is down waits for the restarted plugin: the restart
        /// is held (a hook before its start) until the client is seen waiting.
        @Test func aWaitingClientGetsTheRestartedPlugin() async throws {
            try await withoutLeaks { reactor in
                let (held, release) = AsyncStream<Void>.makeStream()
                let plugin = try await SupervisedPlugin.start(
                    configuration(mode: "crash-exit"),
                    policy: policy { $0.whileRestarting = .wait(.seconds(20)) }, on: reactor,
                    beforeRestart: { for await _ in held { break } })
                try await crash(plugin)
                let waiting = Task(executorPreference: reactor) {
                    try await plugin.dispense(KeyValueClient.self, name: "kv").get("k")
                }
                #expect(try await eventually(on: reactor) { plugin.waitingClients == 1 })
                #expect(plugin.restarts == 0)
                release.yield()
                #expect(try await waiting.value == nil, "a new process: the crashed one's store is gone")
                #expect(plugin.restarts == 1)
                await plugin.kill()
            }
        }

        /// A supervised plugin released without `stop()` is stopped all the same, and not
        /// restarted: the process ends and is reaped while the reactor runs.
        @Test func aReleasedSupervisedPluginIsStopped() async throws {
            try await withoutLeaks { reactor in
                var plugin: SupervisedPlugin? = try await SupervisedPlugin.start(
                    configuration(), policy: policy { _ in }, on: reactor)
                let pid = try await plugin!.client().process.pid
                plugin = nil
                #expect(try await eventually(on: reactor) { !FileManager.default.fileExists(atPath: "/proc/\(pid)") })
            }
        }

        /// `kill()` while a restart is held before its start: the supervision ends, nothing is
        /// started, the state is stopped.
        @Test func killDuringARestartStartsNothing() async throws {
            try await withoutLeaks { reactor in
                // Never released: the restart stays held until the kill cancels it.
                let (held, holder) = AsyncStream<Void>.makeStream()
                defer { holder.finish() }
                let plugin = try await SupervisedPlugin.start(
                    configuration(mode: "crash-exit"), policy: policy { _ in }, on: reactor,
                    beforeRestart: { for await _ in held { break } })
                try await crash(plugin)
                #expect(
                    try await eventually(on: reactor) {
                        if case .restarting = plugin.state { true } else { false }
                    })
                #expect(try await finishes(within: .seconds(20), on: reactor) { await plugin.kill() })
                #expect(plugin.restarts == 0)
                guard case .stopped = plugin.state else {
                    Issue.record("state \(plugin.state) after kill()")
                    return
                }
            }
        }

        /// A host's shutdown stops its supervised plugins: nothing restarts them, nothing is left.
        @Test func aHostStopsItsSupervisedPlugins() async throws {
            try await withoutLeaks { reactor in
                let host = PluginHost(reactor: reactor)
                let plugin = try await host.startSupervised(configuration(), policy: policy { _ in })
                await host.shutdown()
                guard case .stopped = plugin.state else {
                    Issue.record("state \(plugin.state) after the host's shutdown")
                    return
                }
                #expect(plugin.restarts == 0)
            }
        }
    }
}
