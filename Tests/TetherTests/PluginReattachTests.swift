import Foundation
import RPCFixtures
import Synchronization
import Testing
import Tether
import TetherReactor
import TetherTesting

/// Reattach (go-plugin's `ReattachConfig`) and debug mode, with real plugin processes: a host
/// exports a running plugin's configuration and another session or host process reattaches; a
/// stale, forged or unusable configuration fails with its own error and signals nobody; a plugin
/// served by hand is reached through `TETHER_REATTACH_PLUGINS`.
///
/// Its leak checks count this process's descriptors and children, which tests running at the
/// same time would change: run it with `swift test --no-parallel` (as `make test` does).
@Suite(.serialized, .timeLimit(.minutes(2)))
struct PluginReattachTests {
    /// A reattachable plugin's configuration (`network` as asked).
    func reattachable(network: PluginNetwork = .unix) -> PluginClientConfiguration {
        var launched = configuration()
        launched.reattachable = true
        launched.network = network
        launched.plugins = ["kv"]
        launched.shutdownGrace = .seconds(5)
        return launched
    }

    /// Export → detach → reattach from a second client: it reaches the same process (the value
    /// the first host put is there), calls work, its exit status is unknown; its `stop()` ends
    /// the plugin (the quit request), which removes its socket and directory, and the first
    /// host's reactor reaps it.
    @Test(arguments: [PluginNetwork.unix, .tcp(ports: 20_000...20_999)])
    func aSecondClientReattachesToAnExportedPlugin(network: PluginNetwork) async throws {
        let directories = socketDirectories()
        try await withoutLeaks { reactor in
            let first = try await PluginClient.start(reattachable(network: network), on: reactor)
            try await first.dispense(KeyValueClient.self, name: "kv").put("k", value: Data("v".utf8))
            let exported = try #require(first.reattachConfiguration)
            #expect(exported.pid == first.process.pid)
            #expect(exported.plugins == ["kv"])
            // Through JSON, as another process would get it.
            let json = try JSONEncoder().encode(exported)
            let decoded = try JSONDecoder().decode(ReattachConfiguration.self, from: json)
            #expect(decoded == exported)
            await first.detach()
            #expect(ProcessResources.isRunning(exported.pid), "detach ended the plugin")

            let second = try await PluginClient.reattach(decoded, configuration: reattachable(), on: reactor)
            #expect(second.isReattached)
            #expect(second.process.pid == exported.pid)
            let kv = try second.dispense(KeyValueClient.self, name: "kv")
            #expect(try await kv.get("k") == Data("v".utf8))
            _ = try await second.ping()
            #expect(second.exitStatus == nil)
            await second.stop()
            #expect(try await eventually(on: reactor) { reaped(exported.pid) })
            let error = await #expect(throws: PluginError.self) { _ = try await second.waitForExit() }
            #expect(error?.code == .exitStatusUnknown)
        }
        #expect(socketDirectories() == directories, "the plugin left its socket directory")
    }

    /// A second host *process* reattaches through `TETHER_REATTACH_PLUGINS` and detaches; the
    /// plugin keeps the first host's data and the second host's, and a third session stops it.
    @Test func aSecondHostProcessReattachesThroughTheEnvironment() async throws {
        try await withoutLeaks { reactor in
            let first = try await PluginClient.start(reattachable(), on: reactor)
            try await first.dispense(KeyValueClient.self, name: "kv").put("k", value: Data("v1".utf8))
            let exported = try #require(first.reattachConfiguration)
            await first.detach()
            let (output, outputWriter) = try reactor.makePipe()
            let variable = ReattachConfiguration.environmentValue([pluginPath: exported])
            let host = try ChildProcess.spawn(
                executable: pluginPath,
                environment: [
                    "PATH=/usr/bin:/bin", "TETHER_TEST_PLUGIN_MODE=reattach-host",
                    "\(ReattachConfiguration.environmentVariable)=\(variable)",
                ],
                files: [.init(outputWriter.fileDescriptor, as: .standardOutput)], on: reactor)
            try await outputWriter.close()
            var text: [UInt8] = []
            while let slice = try await output.read() { text += slice.bytes }
            try await output.close()
            #expect(try await host.waitForExit() == .exited(code: 0))
            try await host.close()
            #expect(String(decoding: text, as: UTF8.self) == "got v1 reattached true\n")

            let third = try await PluginClient.reattach(exported, configuration: reattachable(), on: reactor)
            #expect(try await third.dispense(KeyValueClient.self, name: "kv").get("k2") == Data("from-host".utf8))
            await third.stop()
            #expect(try await eventually(on: reactor) { reaped(exported.pid) })
        }
    }

    /// A reattachable plugin outlives its first host: a host process that launched it is
    /// killed with SIGKILL (no chance to detach), or detaches, shuts its reactor down and exits;
    /// either way the plugin (no parent-death signal; a detached child is not killed by the
    /// shutdown) still runs, and the test reattaches to it and stops it.
    @Test(arguments: [false, true])
    func aReattachablePluginOutlivesItsFirstHost(hostDetaches: Bool) async throws {
        try await withoutLeaks { reactor in
            let (output, outputWriter) = try reactor.makePipe()
            let host = try ChildProcess.spawn(
                executable: pluginPath,
                environment: [
                    "PATH=/usr/bin:/bin", "TETHER_TEST_PLUGIN_MODE=reattachable-host",
                    "TETHER_TEST_HOST_DETACHES=\(hostDetaches ? 1 : 0)",
                ],
                files: [.init(outputWriter.fileDescriptor, as: .standardOutput)], on: reactor)
            try await outputWriter.close()
            var text = ""
            while !text.contains("\n"), let slice = try await output.read() {
                text += String(decoding: slice.bytes, as: UTF8.self)
            }
            let line = String(text.prefix(while: { $0 != "\n" }))
            let exported = try #require(ReattachConfiguration.parseDebugLine(line), "the host said \(text)")
            if hostDetaches {
                #expect(try await host.waitForExit() == .exited(code: 0))
            } else {
                try host.send(signal: SIGKILL)
                #expect(try await host.waitForExit() == .signaled(signal: SIGKILL, coreDumped: false))
            }
            try await host.close()
            try await output.close()
            let reattached = try await PluginClient.reattach(exported, configuration: reattachable(), on: reactor)
            #expect(try await reattached.dispense(KeyValueClient.self, name: "kv").get("k") == Data("before".utf8))
            await reattached.stop()
            #expect(try await eventually(on: reactor) { !ProcessResources.isRunning(exported.pid) })
        }
    }

    /// The plugin has exited: `pluginNotRunning`.
    @Test func aStaleConfigurationFails() async throws {
        try await withoutLeaks { reactor in
            let client = try await PluginClient.start(reattachable(), on: reactor)
            let exported = try #require(client.reattachConfiguration)
            await client.stop()
            // The quit request ended it: the end of the session alone does not end a
            // reattachable plugin (it would have taken SIGTERM after the grace).
            #expect(client.exitStatus == .exited(code: 0))
            #expect(!ProcessResources.isRunning(exported.pid))
            let error = await #expect(throws: PluginError.self) {
                _ = try await PluginClient.reattach(exported, configuration: reattachable(), on: reactor)
            }
            #expect(error?.code == .pluginNotRunning, "\(String(describing: error))")
        }
    }

    /// A configuration whose pid names another live process (a recycled pid, a forgery): a
    /// `sleep` child of the test, or the test process itself. `peerMismatch`, and that process
    /// was not signalled (still running, not stopped); the plugin still serves.
    @Test(arguments: [false, true])
    func aForgedPidFailsWithoutSignallingThatProcess(useOwnPid: Bool) async throws {
        try await withoutLeaks { reactor in
            var launched = reattachable()
            launched.shutdownGrace = .milliseconds(200)
            let client = try await PluginClient.start(launched, on: reactor)
            let bystander = try ChildProcess.spawn(
                executable: "/bin/sleep", arguments: ["60"], environment: [], on: reactor)
            var forged = try #require(client.reattachConfiguration)
            forged.pid = useOwnPid ? getpid() : bystander.pid
            await client.detach()
            let error = await #expect(throws: PluginError.self) {
                _ = try await PluginClient.reattach(forged, configuration: launched, on: reactor)
            }
            #expect(error?.code == .peerMismatch, "\(String(describing: error))")
            #expect(bystander.exitStatus == nil)
            #expect(ProcessResources.isRunning(bystander.pid), "the bystander was signalled")
            #expect(ProcessResources.processState(bystander.pid) != "T", "the bystander was stopped")
            // The real configuration still works, and stops the plugin.
            var real = forged
            real.pid = client.process.pid
            let reattached = try await PluginClient.reattach(real, configuration: launched, on: reactor)
            _ = try await reattached.ping()
            await reattached.stop()
            try bystander.send(signal: SIGKILL)
            #expect(try await bystander.waitForExit() == .signaled(signal: SIGKILL, coreDumped: false))
            try await bystander.close()
        }
    }

    /// An application version this host does not support, a socket that is gone, fields that
    /// name nothing: each its own error, before anything is signalled; the plugin still serves.
    @Test func unusableConfigurationsFailWithTheirOwnErrors() async throws {
        try await withoutLeaks { reactor in
            let client = try await PluginClient.start(reattachable(), on: reactor)
            let real = try #require(client.reattachConfiguration)
            await client.detach()
            func expectFailure(_ code: PluginError.Code, _ change: (inout ReattachConfiguration) -> Void) async {
                var changed = real
                change(&changed)
                let error = await #expect(throws: PluginError.self) {
                    _ = try await PluginClient.reattach(changed, configuration: reattachable(), on: reactor)
                }
                #expect(error?.code == code, "\(String(describing: error))")
            }
            await expectFailure(.noCommonVersion) { $0.appVersion = 7 }
            await expectFailure(.pluginUnreachable) { $0.address += ".gone" }
            await expectFailure(.invalidReattachConfiguration) { $0.pid = 0 }
            await expectFailure(.unsupportedProtocol) { $0.protocolName = "grpc" }
            await expectFailure(.unsupportedNetwork) { $0.network = "udp" }
            await expectFailure(.unknownPlugin) { $0.plugins = ["other"] }
            #expect(ProcessResources.isRunning(real.pid))
            let reattached = try await PluginClient.reattach(real, configuration: reattachable(), on: reactor)
            await reattached.stop()
            #expect(try await eventually(on: reactor) { reaped(real.pid) })
        }
    }

    /// Debug mode: the plugin started by hand (no cookie, `TETHER_PLUGIN_DEBUG=1`) prints its
    /// reattach line; a host given it in `TETHER_REATTACH_PLUGINS` reattaches instead of
    /// launching, and its `stop()` only detaches, so a second host finds the plugin and its
    /// data; `kill()` ends it (SIGKILL through the pidfd).
    @Test func aPluginServedInDebugModeIsReachedThroughTheEnvironment() async throws {
        try await withoutLeaks { reactor in
            let (output, outputWriter) = try reactor.makePipe()
            let plugin = try ChildProcess.spawn(
                executable: pluginPath,
                environment: ["PATH=/usr/bin:/bin", "\(PluginEnvironment.debugVariable)=1"],
                files: [.init(outputWriter.fileDescriptor, as: .standardOutput)], on: reactor)
            try await outputWriter.close()
            var text = ""
            while !text.contains("\n"), let slice = try await output.read() {
                text += String(decoding: slice.bytes, as: UTF8.self)
            }
            let line = String(text.prefix(while: { $0 != "\n" }))
            let printed = try #require(ReattachConfiguration.parseDebugLine(line), "the plugin printed \(text)")
            #expect(printed.pid == plugin.pid)
            #expect(printed.debug)
            #expect(printed.plugins == ["jobs", "kv", "kv-instance"])
            let environment = [
                ReattachConfiguration.environmentVariable: ReattachConfiguration.environmentValue(
                    ["tether-test-plugin": printed])
            ]

            let first = try await PluginClient.startOrReattach(configuration(), on: reactor, environment: environment)
            #expect(first.isReattached)
            try await first.dispense(KeyValueClient.self, name: "kv").put("k", value: Data("debug".utf8))
            await first.stop()
            #expect(plugin.exitStatus == nil)
            #expect(ProcessResources.isRunning(plugin.pid), "stop() ended a debug-mode plugin")

            let second = try await PluginClient.startOrReattach(configuration(), on: reactor, environment: environment)
            #expect(try await second.dispense(KeyValueClient.self, name: "kv").get("k") == Data("debug".utf8))
            await second.kill()
            #expect(try await plugin.waitForExit() == .signaled(signal: SIGKILL, coreDumped: false))
            try await plugin.close()
            try await output.close()
            // Killed, it could not remove its socket; the host that saw it end did.
            #expect(!FileManager.default.fileExists(atPath: printed.address))
        }
    }

    /// Without the variable (or with no entry for this executable), `startOrReattach` launches.
    @Test func startOrReattachLaunchesWithoutAnEntry() async throws {
        try await withoutLeaks { reactor in
            let other = ReattachConfiguration(appVersion: 1, network: .unix, address: "/nonexistent", pid: 1)
            let environment = [
                ReattachConfiguration.environmentVariable: ReattachConfiguration.environmentValue(["other": other])
            ]
            let client = try await PluginClient.startOrReattach(configuration(), on: reactor, environment: environment)
            #expect(!client.isReattached)
            await client.stop()
            let broken = [ReattachConfiguration.environmentVariable: "{not json"]
            let error = await #expect(throws: PluginError.self) {
                _ = try await PluginClient.startOrReattach(configuration(), on: reactor, environment: broken)
            }
            #expect(error?.code == .invalidEnvironment)
        }
    }
}

/// The plugin `pid` (launched by this test process, then detached) has exited and the reactor
/// has reaped it.
private func reaped(_ pid: Int32) -> Bool {
    !ProcessResources.childProcessIDs().contains(pid)
}
