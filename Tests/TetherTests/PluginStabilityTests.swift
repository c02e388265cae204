import Foundation
import Logging
import MetricsTestKit
import RPCFixtures
import Synchronization
import Testing
import Tether
import TetherMux
import TetherReactor
import TetherTesting

/// What the host promises whatever a plugin does (DESIGN.md, "Stability"), each promise put to
/// the test by a real plugin process that misbehaves: one that never reads, never accepts,
/// crashes, is forgotten by its host, or is started past the descriptor limit.
///
/// Its leak checks count this process's descriptors and children, which tests running at the
/// same time would change: run it with `swift test --no-parallel` (as `make test` does).
@Suite(.serialized, .timeLimit(.minutes(2)))
struct PluginStabilityTests {
    /// `stop()` with calls queued to a plugin that never reads (it never even accepts the
    /// connection): closing the session cannot finish, yet the grace bounds the graceful part,
    /// SIGTERM follows, and the plugin is reaped and released. The session's write timeout is
    /// set far beyond the test's bound, so only the grace can end the graceful part in time.
    @Test func killEndsAPluginThatNeverReads() async throws {
        try await withoutLeaks { reactor in
            var deaf = configuration(mode: "never-reads")
            deaf.shutdownGrace = .milliseconds(300)
            deaf.mux.writeTimeoutNanoseconds = 120_000_000_000
            let recorder = LogRecorder()
            deaf.logger = recorder.logger()
            let metrics = TestMetrics()
            deaf.metricsFactory = metrics
            let client = try await PluginClient.start(deaf, on: reactor)
            let kv = try client.dispense(KeyValueClient.self, name: "kv")
            let payload = Data(repeating: 7, count: 256 * 1024)
            let calls = (0..<4).map { index in
                Task(executorPreference: reactor) { try await kv.put("k\(index)", value: payload) }
            }
            // A megabyte queued: far more than the socket holds unread, so a send is in flight
            // that the plugin never lets finish.
            #expect(try await eventually(on: reactor) { await client.session.statistics.payloadBytesSent >= 1_000_000 })
            let killed = try await finishes(within: .seconds(20), on: reactor) { await client.stop() }
            #expect(killed, "stop() did not return")
            guard killed else { return }
            // The plugin leaves SIGTERM at its default action: the group's SIGTERM ended it.
            #expect(client.exitStatus == .signaled(signal: SIGTERM, coreDumped: false))
            // The host asked for this exit: it is counted as expected (the exit watcher decides
            // that before it would log "unexpectedly"), and not reported as unexpected.
            #expect(try await eventually(on: reactor) { metrics.counterTotal(label: "tether_plugin_exits") == 1 })
            #expect(metrics.counterTotal(label: "tether_plugin_exits", dimensions: [("expected", "true")]) == 1)
            #expect(!recorder.all.contains { $0.message.hasPrefix("plugin exited unexpectedly") })
            for call in calls { await #expect(throws: (any Error).self) { try await call.value } }
            #expect(!FileManager.default.fileExists(atPath: client.socketDirectory))
        }
    }

    /// `kill()` is the forced stop: SIGKILL to the group at once, no quit request and no grace.
    /// The grace here is far beyond the test's bound, so a `kill()` that waited for the plugin
    /// to quit (as `stop()` does) would not return in time; and a plugin ended by SIGTERM would
    /// show another status. A `stop()` under way is cut short by it: the test waits until the
    /// stop has begun (it closed the session, the quit request) and is in its grace (the plugin
    /// still runs) before it kills, so the kill meets the stop rather than starting one.
    @Test func killEndsThePluginWithoutAGrace() async throws {
        try await withoutLeaks { reactor in
            var deaf = configuration(mode: "never-reads")
            deaf.shutdownGrace = .seconds(120)
            let metrics = TestMetrics()
            deaf.metricsFactory = metrics
            let client = try await PluginClient.start(deaf, on: reactor)
            let stopping = Task(executorPreference: reactor) { await client.stop() }
            let session = client.session
            let inGrace = try await eventually(on: reactor) { await session.endReason != nil }
            try #require(inGrace, "the stop closed the session")
            #expect(client.exitStatus == nil && ProcessResources.isRunning(client.process.pid), "the plugin quit")
            let killed = try await finishes(within: .seconds(20), on: reactor) { await client.kill() }
            #expect(killed, "kill() did not return")
            guard killed else { return }
            #expect(client.exitStatus == .signaled(signal: SIGKILL, coreDumped: false))
            #expect(try await finishes(within: .seconds(20), on: reactor) { await stopping.value })
            #expect(try await eventually(on: reactor) { metrics.counterTotal(label: "tether_plugin_exits") == 1 })
            #expect(
                metrics.counterTotal(
                    label: "tether_plugin_exits", dimensions: [("kind", "killed"), ("expected", "true")]) == 1)
            #expect(!FileManager.default.fileExists(atPath: client.socketDirectory))
        }
    }

    /// A plugin that left the process group it was started in still gets SIGTERM and SIGKILL:
    /// they go to the plugin itself (its pidfd) as well as to the group.
    @Test func killReachesAPluginThatLeftItsProcessGroup() async throws {
        try await withoutLeaks { reactor in
            var stray = configuration(mode: "never-reads-other-group")
            stray.shutdownGrace = .milliseconds(300)
            let client = try await PluginClient.start(stray, on: reactor)
            #expect(getpgid(client.process.pid) == getpgrp())
            let killed = try await finishes(within: .seconds(20), on: reactor) { await client.stop() }
            #expect(killed, "stop() did not return")
            guard killed else { return }
            #expect(client.exitStatus == .signaled(signal: SIGTERM, coreDumped: false))
        }
    }

    /// One deadline from spawn to a ready session: a plugin that prints a valid handshake but
    /// whose listener never takes the host's connection is killed and reaped at the start
    /// timeout, which names the phase.
    @Test(arguments: ["unix", "tcp"])
    func theStartTimeoutCoversConnecting(network: String) async throws {
        try await withoutLeaks { reactor in
            let directories = socketDirectories()
            var stuck = configuration(mode: "never-accepts")
            if network == "tcp" { stuck.network = .tcp(ports: PluginNetwork.defaultPorts) }
            stuck.startTimeout = .milliseconds(500)
            let configuration = stuck
            let failure = Mutex<(any Error)?>(nil)
            let ended = try await finishes(within: .seconds(30), on: reactor) {
                do {
                    let client = try await PluginClient.start(configuration, on: reactor)
                    await client.stop()
                } catch {
                    failure.withLock { $0 = error }
                }
            }
            #expect(ended, "start() did not end")
            let error = failure.withLock { $0 } as? PluginError
            #expect(error?.code == .startTimeout, "\(String(describing: failure.withLock { $0 }))")
            #expect(error?.message.contains("was not ready within 0.5 seconds (still connecting to ") == true)
            #expect(socketDirectories() == directories)
        }
    }

    /// What a plugin writes to stderr while dying reaches the host: in the `pluginExited` error
    /// of the call it died in and of later pings, and in one error record with the exit status.
    /// fatalError (the Swift runtime's message, then its backtrace), a write then exit(1), and a
    /// SIGSEGV.
    @Test(arguments: [
        ("crash-fatal", "killed by signal 4", ["about to fail on k", "Fatal error: boom: the store is corrupt"]),
        ("crash-exit", "exited with status 1", ["giving up on k: disk full"]),
        ("crash-segv", "killed by signal 11", ["about to fault on k", "Program crashed"]),
    ])
    func aDyingPluginsStderrReachesTheHost(mode: String, status: String, texts: [String]) async throws {
        try await withoutLeaks { reactor in
            let recorder = LogRecorder()
            var crashing = configuration(mode: mode)
            crashing.logger = recorder.logger()
            let client = try await PluginClient.start(crashing, on: reactor)
            let kv = try client.dispense(KeyValueClient.self, name: "kv")
            let call = await #expect(throws: PluginError.self) { try await kv.put("k", value: Data("v".utf8)) }
            #expect(call?.code == .pluginExited)
            let ping = await #expect(throws: PluginError.self) { _ = try await client.ping() }
            #expect(ping?.code == .pluginExited)
            let isUnexpectedExit: @Sendable (LogRecorder.Entry) -> Bool = {
                $0.message.hasPrefix("plugin exited unexpectedly")
            }
            #expect(try await eventually(on: reactor) { recorder.all.contains(where: isUnexpectedExit) })
            let unexpected = recorder.all.filter(isUnexpectedExit)
            #expect(unexpected.count == 1)
            #expect(unexpected.first?.level == .error)
            for text in [status] + texts {
                #expect(call?.message.contains(text) == true, "\(text) is not in \(call?.message ?? "")")
                #expect(ping?.message.contains(text) == true, "\(text) is not in \(ping?.message ?? "")")
                #expect(unexpected.first?.message.contains(text) == true, "\(text) is not in the record")
            }
            await client.stop()
        }
    }

    /// A running plugin costs its host three descriptors: its socket, its pidfd and its stderr
    /// pipe (read for the plugin's whole life, for its crash text); the stdout pipe closes once
    /// the plugin forwards stdout over stream 3.
    @Test func aRunningPluginCostsTheHostThreeDescriptors() async throws {
        try await withoutLeaks { reactor in
            let descriptors = DescriptorSnapshot.ignoringRunLoops()
            var clients: [PluginClient] = []
            for _ in 0..<3 { clients.append(try await PluginClient.start(configuration(), on: reactor)) }
            // A pong comes once the plugin has moved its fds 1 and 2 onto streams 3 and 5.
            for client in clients { _ = try await client.ping() }
            let count = clients.count
            #expect(try await eventually(on: reactor) { descriptors.added <= 3 * count })
            #expect(descriptors.added == 3 * count)
            for client in clients { await client.stop() }
        }
    }

    /// A client released without `stop()` still ends its plugin: stopped, reaped, its socket
    /// directory removed, its descriptors closed.
    @Test func aReleasedClientStopsAndReapsItsPlugin() async throws {
        try await withoutLeaks { reactor in
            let descriptors = DescriptorSnapshot.ignoringRunLoops()
            let directories = socketDirectories()
            var client: PluginClient? = try await PluginClient.start(configuration(), on: reactor)
            _ = try await client?.ping()
            let pid = try #require(client?.process.pid)
            #expect(socketDirectories().count == directories.count + 1)
            client = nil
            #expect(socketDirectories() == directories, "the socket directory outlived its client")
            #expect(
                try await eventually(on: reactor) { !ProcessResources.childProcessIDs().contains(pid) },
                "the plugin of a released client was not stopped and reaped")
            #expect(try await eventually(on: reactor) { descriptors.added == 0 })
        }
    }

    /// A host that releases its client and shuts its reactor down at once (then exits): the
    /// socket directory is gone all the same, and so is the plugin.
    @Test func aClientReleasedJustBeforeReactorShutdownLeavesNoDirectory() async throws {
        try await withoutLeaks { reactor in
            let (output, outputWriter) = try reactor.makePipe()
            let host = try ChildProcess.spawn(
                executable: pluginPath,
                environment: ["PATH=/usr/bin:/bin", "TETHER_TEST_PLUGIN_MODE=host-drops-client"],
                files: [.init(outputWriter.fileDescriptor, as: .standardOutput)], on: reactor)
            try await outputWriter.close()
            let text = Mutex("")
            let read = try await finishes(within: .seconds(30), on: reactor) {
                while let slice = try? await output.read() {
                    text.withLock { $0 += String(decoding: slice.bytes, as: UTF8.self) }
                }
            }
            #expect(read, "the host did not finish")
            #expect(try await host.waitForExit() == .exited(code: 0))
            let lines = text.withLock { $0 }.split(separator: "\n")
            #expect(lines.last == "done", "host said \(lines)")
            let words = lines.first?.split(separator: " ") ?? []
            let plugin = try #require(
                words.count == 3 && words[0] == "plugin" ? Int32(words[1]) : nil, "host said \(lines)")
            #expect(!FileManager.default.fileExists(atPath: String(words[2])), "the socket directory outlived the host")
            #expect(
                try await eventually(on: reactor) { !ProcessResources.isRunning(plugin) },
                "the plugin outlived its host")
            try await output.close()
            try await host.close()
        }
    }

    /// `withPlugin` stops the plugin when its body throws: reaped, directory removed, nothing
    /// left (the leak check).
    @Test func withPluginStopsThePluginWhenItsBodyThrows() async throws {
        struct BodyFailed: Error {}
        try await withoutLeaks { reactor in
            let seen = Mutex<(pid: Int32, directory: String)?>(nil)
            await #expect(throws: BodyFailed.self) {
                try await withPlugin(configuration(), on: reactor) { plugin in
                    _ = try await plugin.ping()
                    seen.withLock { $0 = (plugin.process.pid, plugin.socketDirectory) }
                    throw BodyFailed()
                }
            }
            let (pid, directory) = try #require(seen.withLock { $0 })
            #expect(!FileManager.default.fileExists(atPath: directory))
            #expect(!ProcessResources.childProcessIDs().contains(pid))
            let answer = try await withPlugin(configuration(), on: reactor) { plugin in
                let kv = try plugin.dispense(KeyValueClient.self, name: "kv")
                try await kv.put("answer", value: Data("42".utf8))
                return try await kv.get("answer")
            }
            #expect(answer == Data("42".utf8))
        }
    }

    /// Past the soft RLIMIT_NOFILE, a start fails with `tooManyOpenFiles` naming the limit, from
    /// whichever step ran out (a pipe, the pidfd, the socket); nothing of it is left, and the
    /// plugins already running still answer.
    @Test(arguments: [64, 256])
    func startsPastTheDescriptorLimitFailCleanly(limit: Int) async throws {
        try await withoutLeaks { reactor in
            let directories = socketDirectories()
            let original = try ProcessControl.openFileLimit()
            var clients: [PluginClient] = []
            var failure: (any Error)?
            do {
                try ProcessControl.setOpenFileLimit(soft: limit)
                defer { try? ProcessControl.setOpenFileLimit(soft: original.soft) }
                // Each plugin holds at least three descriptors: fewer than limit / 3 fit.
                while failure == nil, clients.count < limit / 3 {
                    do {
                        clients.append(try await PluginClient.start(configuration(), on: reactor))
                    } catch {
                        failure = error
                    }
                }
                for (index, client) in clients.enumerated() {
                    let kv = try client.dispense(KeyValueClient.self, name: "kv")
                    try await kv.put("k", value: Data([UInt8(index)]))
                    #expect(try await kv.get("k") == Data([UInt8(index)]))
                }
            }
            let error = failure as? PluginError
            #expect(error?.code == .tooManyOpenFiles, "\(String(describing: failure))")
            #expect(
                error?.message.contains("limit of \(limit) open file descriptors") == true, "\(error?.message ?? "")")
            #expect(!clients.isEmpty)
            #expect(ProcessResources.childProcessIDs().count == clients.count, "a process of the failed start is left")
            #expect(socketDirectories().subtracting(directories).count == clients.count, "a directory is left")
            await withTaskGroup(of: Void.self) { group in
                for client in clients { group.addTask(executorPreference: reactor) { await client.stop() } }
            }
            #expect(socketDirectories() == directories)
        }
    }

    /// Streams are not descriptors: 100,000 streams opened and closed on one plugin's session
    /// leave the host's descriptor count where it was.
    @Test func streamsCostNoDescriptors() async throws {
        try await withoutLeaks { reactor in
            let descriptors = DescriptorSnapshot.ignoringRunLoops()
            let client = try await PluginClient.start(configuration(), on: reactor)
            _ = try await client.ping()
            #expect(try await eventually(on: reactor) { descriptors.added == 3 })
            var counts: Set<Int> = []
            for _ in 0..<100 {
                var streams: [MuxStream] = []
                for _ in 0..<1_000 { streams.append(try await client.session.openStream()) }
                counts.insert(descriptors.added)
                for stream in streams { await stream.close() }
            }
            #expect(counts == [3])
            #expect(await client.session.statistics.streamsOpened >= 100_000)
            _ = try await client.ping()
            await client.stop()
        }
    }
}
