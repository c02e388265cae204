import Foundation
import Logging
import RPCFixtures
import ServiceLifecycle
import Synchronization
import SystemPackage
import Testing
import Tether
import TetherReactor
import TetherTesting

/// Launching, using and stopping real plugin processes. The suites nested in it (extensions in
/// other files) share its `.serialized`.
///
/// Its leak checks count this process's descriptors and children, which tests running at the
/// same time would change: run it with `swift test --no-parallel` (as `make test` does).
@Suite(.serialized, .timeLimit(.minutes(1)))
struct PluginLaunchTests {
    @Test func startDispenseCallAndQuit() async throws {
        try await withoutLeaks { reactor in
            let client = try await PluginClient.start(configuration(), on: reactor)
            let kv = try client.dispense(KeyValueClient.self, name: "kv")
            try await kv.put("answer", value: Data("42".utf8))
            #expect(try await kv.get("answer") == Data("42".utf8))
            // The plugin answers on the control stream (ping throws if it does not).
            for _ in 0..<3 { _ = try await client.ping() }
            let attributes = try FileManager.default.attributesOfItem(atPath: client.socketDirectory)
            #expect((attributes[.posixPermissions] as? Int) == 0o700)
            await client.stop()
            #expect(!FileManager.default.fileExists(atPath: client.socketDirectory))
            // The quit (session closed) made the plugin return from serve: a clean exit.
            #expect(try await client.waitForExit() == .exited(code: 0))
            await client.stop()  // idempotent
        }
    }

    /// A stop right after the start: the host's quit (closing the session) can reach the plugin
    /// before it has taken its streams 1, 3 and 5. That is the same quit as later, so the
    /// plugin exits with status 0 and says nothing on stderr. Twenty in a row, as the race is
    /// won by the quit most of the time but not always.
    @Test func aPluginStoppedRightAfterItsStartExitsCleanly() async throws {
        try await withoutLeaks { reactor in
            for _ in 0..<20 {
                let errors = Mutex<[String]>([])
                var plain = configuration()
                plain.stderrSink = { line in errors.withLock { $0.append(line) } }
                let client = try await PluginClient.start(plain, on: reactor)
                await client.stop()
                #expect(client.exitStatus == .exited(code: 0), "stderr: \(errors.withLock { $0 })")
                #expect(errors.withLock { $0 }.isEmpty)
            }
        }
    }

    /// A plugin that does not leave on the quit gets SIGTERM after the grace; one that ignores
    /// SIGTERM too gets SIGKILL.
    @Test(arguments: [("lingering", SIGTERM), ("stubborn", SIGKILL)])
    func killEscalates(mode: String, signal: Int32) async throws {
        try await withoutLeaks { reactor in
            var stubborn = configuration(mode: mode)
            stubborn.shutdownGrace = .milliseconds(200)
            let client = try await PluginClient.start(stubborn, on: reactor)
            #expect(try await client.dispense(KeyValueClient.self, name: "kv").get("x") == nil)
            await client.stop()
            #expect(try await client.waitForExit() == .signaled(signal: signal, coreDumped: false))
        }
    }

    @Test func pluginKilledMidCallFailsTheCallWithItsExit() async throws {
        try await withoutLeaks { reactor in
            let client = try await PluginClient.start(configuration(), on: reactor)
            let kv = try client.dispense(KeyValueClient.self, name: "kv")
            let call = Task(executorPreference: reactor) { try await kv.block() }
            // The call reaches the plugin (a second call on the same session answers after it).
            #expect(try await kv.get("x") == nil)
            try client.process.send(signal: SIGKILL)
            let error = await #expect(throws: PluginError.self) { _ = try await call.value }
            #expect(error?.code == .pluginExited)
            #expect(error?.message == "the plugin killed by signal 9")
            #expect(try await client.waitForExit() == .signaled(signal: SIGKILL, coreDumped: false))
            #expect(client.exitStatus == .signaled(signal: SIGKILL, coreDumped: false))
            let ping = await #expect(throws: PluginError.self) { _ = try await client.ping() }
            #expect(ping?.code == .pluginExited)
            await client.stop()
        }
    }

    @Test func outputAfterTheHandshakeArrivesOverStreamsThreeAndFive() async throws {
        try await withoutLeaks { reactor in
            let output = Mutex<[String]>([])
            let errors = Mutex<[String]>([])
            var chatty = configuration(mode: "chatty")
            chatty.stdoutSink = { line in output.withLock { $0.append(line) } }
            chatty.stderrSink = { line in errors.withLock { $0.append(line) } }
            let client = try await PluginClient.start(chatty, on: reactor)
            let kv = try client.dispense(KeyValueClient.self, name: "kv")
            for key in ["a", "b"] { try await kv.put(key, value: Data()) }
            for _ in 0..<2_000 where output.withLock({ $0.count }) < 2 || errors.withLock({ $0.count }) < 2 {
                try await reactor.sleep(for: .milliseconds(5))
            }
            #expect(output.withLock { $0 } == ["put a", "put b"])
            #expect(errors.withLock { $0 } == ["stderr put a", "stderr put b"])
            await client.stop()
        }
    }

    /// 100 plugins started at once, used and stopped by one reactor (default configuration: 64
    /// receive buffers for 300 pipes and sockets), with descriptors and children back to the start.
    @Test(arguments: [100]) func manyPluginsOnOneReactor(pluginCount: Int) async throws {
        try await withoutLeaks { reactor in
            let clients = try await withThrowingTaskGroup(of: PluginClient.self) { group in
                for _ in 0..<pluginCount {
                    group.addTask(executorPreference: reactor) {
                        try await PluginClient.start(configuration(), on: reactor)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(ProcessResources.childProcessIDs().count == pluginCount)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, client) in clients.enumerated() {
                    group.addTask(executorPreference: reactor) {
                        let kv = try client.dispense(KeyValueClient.self, name: "kv")
                        try await kv.put("k", value: Data([UInt8(index)]))
                        #expect(try await kv.get("k") == Data([UInt8(index)]))
                    }
                }
                try await group.waitForAll()
            }
            await withTaskGroup(of: Void.self) { group in
                for client in clients { group.addTask(executorPreference: reactor) { await client.stop() } }
            }
            for client in clients { #expect(client.exitStatus == .exited(code: 0)) }
        }
    }

    @Test func linesBeforeTheHandshakeGoToTheStdoutSink() async throws {
        try await withoutLeaks { reactor in
            let lines = Mutex<[String]>([])
            var configuration = configuration(mode: "stray")
            configuration.stdoutSink = { line in lines.withLock { $0.append(line) } }
            let client = try await PluginClient.start(configuration, on: reactor)
            #expect(lines.withLock { $0 } == ["kvplugin: loading configuration"])
            await client.stop()
        }
    }

    /// `print` before `serve` reaches the stdout sink ahead of the handshake, though C stdio
    /// holds it in its buffer (stdout is a pipe): `serve` flushes before it moves fd 1.
    @Test func printedLinesBeforeServeAreFlushedAheadOfTheHandshake() async throws {
        try await withoutLeaks { reactor in
            let lines = Mutex<[String]>([])
            var configuration = configuration(mode: "prints-before-serve")
            configuration.stdoutSink = { line in lines.withLock { $0.append(line) } }
            let client = try await PluginClient.start(configuration, on: reactor)
            #expect(lines.withLock { $0 } == ["kvplugin: loading configuration", "kvplugin: 3 stores found"])
            await client.stop()
        }
    }

    @Test func versionNegotiationPicksTheHighestSharedVersion() async throws {
        try await withoutLeaks { reactor in
            let both = try await PluginClient.start(
                configuration(pluginVersions: "1,2,3", hostVersions: [1, 2]), on: reactor)
            #expect(both.appVersion == 2)
            await both.stop()
            let error = await expectStartFails(
                .noCommonVersion, configuration(pluginVersions: "1,2", hostVersions: [3, 4]), on: reactor)
            #expect(error?.message == "host supports 3,4, plugin supports 1,2")
        }
    }

    @Test func missingAndNonExecutableBinariesAreTheirOwnErrors() async throws {
        try await withoutLeaks { reactor in
            var missing = configuration()
            missing.executable = "/nonexistent/plugin"
            _ = await expectStartFails(.executableNotFound, missing, on: reactor)
            let file = FileManager.default.temporaryDirectory.appendingPathComponent(
                "tether-not-exec-\(UInt32.random(in: 0...UInt32.max))")
            try Data("#!/bin/sh\n".utf8).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            var notExecutable = configuration()
            notExecutable.executable = file.path
            _ = await expectStartFails(.notExecutable, notExecutable, on: reactor)
            // Through symbolic links: to a directory (executable bits and all), and to nothing.
            let links = FileManager.default.temporaryDirectory.appendingPathComponent(
                "tether-links-\(UInt32.random(in: 0...UInt32.max))")
            try FileManager.default.createDirectory(at: links, withIntermediateDirectories: false)
            defer { try? FileManager.default.removeItem(at: links) }
            let toDirectory = links.appendingPathComponent("to-directory").path
            let dangling = links.appendingPathComponent("dangling").path
            try FileManager.default.createSymbolicLink(atPath: toDirectory, withDestinationPath: "/usr/bin")
            try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: "/nonexistent/plugin")
            notExecutable.executable = toDirectory
            _ = await expectStartFails(.notExecutable, notExecutable, on: reactor)
            // A directory itself (searchable, so its executable bits are set).
            notExecutable.executable = links.path
            _ = await expectStartFails(.notExecutable, notExecutable, on: reactor)
            missing.executable = dangling
            _ = await expectStartFails(.executableNotFound, missing, on: reactor)
        }
    }

    @Test func exitBeforeHandshakeReportsStatusAndStderr() async throws {
        try await withoutLeaks { reactor in
            let error = await expectStartFails(.exitedBeforeHandshake, configuration(mode: "exit-early"), on: reactor)
            #expect(error?.message.contains("exited with status 3") == true, "\(String(describing: error))")
            #expect(error?.message.contains("boom: cannot open the database") == true)
        }
    }

    /// A plugin that exits before its handshake while a process it started keeps its stderr open:
    /// the exit is reported (with the stderr read within the grace), not a start timeout.
    @Test func exitBeforeHandshakeIsReportedWhileAHelperHoldsStderr() async throws {
        try await withoutLeaks { reactor in
            var leaving = configuration(mode: "exit-early-leaving-a-helper")
            leaving.startTimeout = .seconds(20)
            leaving.shutdownGrace = .milliseconds(300)
            let error = await expectStartFails(.exitedBeforeHandshake, leaving, on: reactor)
            #expect(error?.message.contains("exited with status 3") == true, "\(String(describing: error))")
            #expect(error?.message.contains("boom: cannot open the database") == true)
            let helper = error?.message.split(separator: "\n").first { $0.hasPrefix("helper ") }
                .flatMap { Int32($0.dropFirst("helper ".count)) }
            #expect(helper != nil, "no helper pid in \(String(describing: error))")
            if let helper { kill(helper, SIGKILL) }
        }
    }

    @Test func silentPluginIsKilledAtTheStartTimeout() async throws {
        try await withoutLeaks { reactor in
            var silent = configuration(mode: "silent")
            silent.startTimeout = .milliseconds(300)
            let error = await expectStartFails(.startTimeout, silent, on: reactor)
            #expect(
                error?.message.hasSuffix("was not ready within 0.3 seconds (still reading the handshake line)") == true)
        }
    }

    @Test func handshakesTetherCannotUseAreRefused() async throws {
        try await withoutLeaks { reactor in
            _ = await expectStartFails(.coreVersionMismatch, configuration(mode: "bad-core"), on: reactor)
            _ = await expectStartFails(.unsupportedProtocol, configuration(mode: "grpc"), on: reactor)
        }
    }

    /// Each way a real plugin's handshake line can be unusable is its own error, and the plugin
    /// is killed and reaped.
    @Test(arguments: [
        ("1|1|unix", PluginError.Code.malformedHandshake),
        ("1|one|unix|/tmp/x.sock|tether|", .malformedHandshake),
        ("1|1|udp|127.0.0.1:9|tether|", .unsupportedNetwork),
        ("1|1|unix|/tmp/x.sock|tether|MIIBszCCAVmgAwIBAgI", .tlsUnsupported),
        ("1|7|unix|/tmp/x.sock|tether|", .noCommonVersion),
        // A well-formed line naming a socket that does not exist: the connect fails.
        ("1|1|unix|/nonexistent/tether-plugin.sock|tether|", .launchFailed),
    ])
    func unusableHandshakeLines(line: String, code: PluginError.Code) async throws {
        try await withoutLeaks { reactor in
            var plugin = configuration(mode: "handshake")
            plugin.environment["TETHER_TEST_HANDSHAKE"] = line
            _ = await expectStartFails(code, plugin, on: reactor)
        }
    }

    /// One plugin process serves several named plugins, and independent instances of one: each
    /// `dispenseInstance` reaches a store of its own, while `dispense` clients share theirs.
    @Test func severalNamedPluginsAndIndependentInstances() async throws {
        try await withoutLeaks { reactor in
            let client = try await PluginClient.start(configuration(), on: reactor)
            let first = try client.dispenseInstance(KeyValueClient.self, name: "kv-instance")
            let second = try client.dispenseInstance(KeyValueClient.self, name: "kv-instance")
            try await first.put("k", value: Data("first".utf8))
            try await second.put("k", value: Data("second".utf8))
            #expect(try await first.get("k") == Data("first".utf8))
            #expect(try await second.get("k") == Data("second".utf8))
            let shared = try client.dispense(KeyValueClient.self, name: "kv")
            let sharedAgain = try client.dispense(KeyValueClient.self, name: "kv")
            try await shared.put("k", value: Data("shared".utf8))
            #expect(try await sharedAgain.get("k") == Data("shared".utf8))
            #expect(try await first.get("k") == Data("first".utf8))
            await client.stop()
        }
    }

    /// With `plugins` configured, dispensing another name is refused before any call.
    @Test func dispensingAPluginTheHostDoesNotListIsRefused() async throws {
        try await withoutLeaks { reactor in
            var listed = configuration()
            listed.plugins = ["kv"]
            let client = try await PluginClient.start(listed, on: reactor)
            #expect(try await client.dispense(KeyValueClient.self, name: "kv").get("x") == nil)
            let error = #expect(throws: PluginError.self) { _ = try client.dispense(KeyValueClient.self, name: "kv2") }
            #expect(error?.code == .unknownPlugin)
            await client.stop()
        }
    }

    @Test func pluginRunWithoutTheCookieExplainsItselfAndExitsWithItsStatus() async throws {
        try await withoutLeaks { reactor in
            let (errorOutput, errorWriter) = try reactor.makePipe()
            let process = try ChildProcess.spawn(
                executable: pluginPath, environment: ["PATH=/usr/bin:/bin"],
                files: [.init(errorWriter.fileDescriptor, as: .standardError)], on: reactor)
            try await errorWriter.close()
            var text: [UInt8] = []
            while let slice = try await errorOutput.read() { text += slice.bytes }
            #expect(try await process.waitForExit() == .exited(code: PluginServer.cookieMismatchExitStatus))
            #expect(String(decoding: text, as: UTF8.self).hasPrefix("This binary is a plugin"))
            try await errorOutput.close()
            try await process.close()
        }
    }

    /// A host whose cookie the plugin refuses learns that it is the cookie (host and plugin
    /// disagree on the handshake configuration), not that the plugin exited with the advice for
    /// a person at a terminal; a plugin that exits with another status before its handshake, or
    /// with that status and no refusal on stderr, is still `exitedBeforeHandshake`.
    @Test func aRefusedCookieFailsTheStartAsCookieMismatch() async throws {
        try await withoutLeaks { reactor in
            var wrong = configuration()
            wrong.handshake = HandshakeConfiguration(
                cookieKey: wrong.handshake.cookieKey, cookieValue: "another", appVersions: wrong.handshake.appVersions)
            let error = await expectStartFails(.cookieMismatch, wrong, on: reactor)
            #expect(error?.message.contains("TETHER_TEST_COOKIE") == true)
            #expect(error?.message.contains("This binary is a plugin") == false)
            _ = await expectStartFails(.exitedBeforeHandshake, configuration(mode: "exit-early"), on: reactor)
            // The cookie refusal's status for a reason of the plugin's own: its stderr says so.
            let own = await expectStartFails(.exitedBeforeHandshake, configuration(mode: "exit-78"), on: reactor)
            #expect(own?.message.contains("bad configuration file") == true, "\(String(describing: own))")
        }
    }

    /// A binary that ships its own plugin: the host starts `.builtIn("kv")`, which re-executes
    /// the host's binary as the plugin (the same file: `/proc/PID/exe` of both agree), calls it
    /// and stops it with the API of any plugin. A name the binary does not have fails the start
    /// with the binary's explanation naming the plugins it has.
    ///
    /// A host that is itself in debug mode or reattachable (here: its environment says so) does
    /// not pass that on: its built-in plugin still hands shake as a plugin of its own.
    @Test(arguments: [
        ("builtin-host", [], ["got v", "same binary true", "plugin exited with status 0"]),
        (
            "builtin-host", ["TETHER_PLUGIN_DEBUG=1", "TETHER_PLUGIN_REATTACHABLE=1"],
            ["got v", "same binary true", "plugin exited with status 0"]
        ),
        (
            "builtin-host-missing", [],
            [
                "error exitedBeforeHandshake: /proc/self/exe exited with status 1 before its handshake; stderr: "
                    + #"plugin: this binary has no built-in plugin named "missing" (it has: kv)"#
            ]
        ),
    ])
    func aHostStartsItsBuiltInPlugin(mode: String, inherited: [String], expected: [String]) async throws {
        try await withoutLeaks { reactor in
            let (output, outputWriter) = try reactor.makePipe()
            let host = try ChildProcess.spawn(
                executable: pluginPath,
                environment: ["PATH=/usr/bin:/bin", "TETHER_TEST_PLUGIN_MODE=\(mode)"] + inherited,
                files: [.init(outputWriter.fileDescriptor, as: .standardOutput)], on: reactor)
            try await outputWriter.close()
            var text: [UInt8] = []
            while let slice = try await output.read() { text += slice.bytes }
            #expect(try await host.waitForExit() == .exited(code: 0))
            #expect(String(decoding: text, as: UTF8.self).split(separator: "\n").map(String.init) == expected)
            try await output.close()
            try await host.close()
        }
    }

    /// Killed host, plugin connected: the session ends, the plugin exits. Not connected yet (it
    /// waits in accept): only PR_SET_PDEATHSIG ends it.
    @Test(arguments: ["host", "host-without-connecting"])
    func pluginDiesWithItsHost(mode: String) async throws {
        try await withoutLeaks { reactor in
            let (output, outputWriter) = try reactor.makePipe()
            let host = try ChildProcess.spawn(
                executable: pluginPath, environment: ["PATH=/usr/bin:/bin", "TETHER_TEST_PLUGIN_MODE=\(mode)"],
                files: [.init(outputWriter.fileDescriptor, as: .standardOutput)], on: reactor)
            try await outputWriter.close()
            var text = ""
            while !text.contains("\n"), let slice = try await output.read() {
                text += String(decoding: slice.bytes, as: UTF8.self)
            }
            let words = text.split(whereSeparator: \.isWhitespace)
            let plugin = try #require(
                words.count >= 2 && words[0] == "child" ? Int32(words[1]) : nil, "host said \(text)")
            #expect(ProcessResources.isRunning(plugin))
            try host.send(signal: SIGKILL)
            #expect(try await host.waitForExit() == .signaled(signal: SIGKILL, coreDumped: false))
            // PR_SET_PDEATHSIG: the kernel kills the orphaned plugin (init reaps it, or it stays a zombie).
            #expect(
                try await eventually(on: reactor) { !ProcessResources.isRunning(plugin) },
                "the plugin outlived its host")
            try await output.close()
            try await host.close()
        }
    }

    /// hclog JSON lines on the plugin's stderr become records at their level with their keys as
    /// metadata; other lines are logged as text; a line longer than the 64 KiB line limit comes
    /// in two pieces, nothing dropped. The raw lines reach the stderr sink as well.
    @Test func stderrLinesBecomeLogRecords() async throws {
        try await withoutLeaks { reactor in
            let recorder = LogRecorder()
            let raw = Mutex<[String]>([])
            var logging = configuration(mode: "logging")
            logging.logger = recorder.logger()
            logging.stderrSink = { line in raw.withLock { $0.append(line) } }
            let client = try await PluginClient.start(logging, on: reactor)
            try await client.dispense(KeyValueClient.self, name: "kv").put("k1", value: Data("abc".utf8))
            let arrived = try await eventually(on: reactor) { raw.withLock { $0.count } >= 4 }
            await client.stop()
            try #require(arrived, "the plugin's four stderr lines arrived: \(raw.withLock { $0.map(\.count) })")
            let json =
                #"{"@level":"warn","@message":"put k1","@timestamp":"2026-11-26T01:02:03.000000Z","#
                + #""@module":"kv","key":"k1","bytes":3,"fresh":true,"where":{"shard":[1,2]}}"#
            #expect(raw.withLock { $0.map(\.count) } == [json.count, 28, 65_536, 70_000 - 65_536])
            #expect(raw.withLock { $0.first } == json)

            let pid = "\(client.process.pid)"
            let own = recorder.all.filter { $0.message.hasPrefix("plugin ") }
            #expect(own.first?.message == "plugin started")
            #expect(own.first?.metadata["plugin.version"] == "1")
            let records = recorder.all.filter { !$0.message.hasPrefix("plugin ") }
            #expect(records.map(\.level) == [.warning, .error, .debug, .debug])
            #expect(records.map(\.message.count) == [6, 28, 65_536, 70_000 - 65_536])
            try #require(records.count == 4, "four records, not \(records.map(\.message))")
            for record in records {
                #expect(record.metadata["plugin.name"] == "tether-test-plugin")
                #expect(record.metadata["plugin.pid"] == .string(pid))
            }
            let first = records[0]
            #expect(first.message == "put k1")
            #expect(first.metadata["timestamp"] == "2026-11-26T01:02:03.000000Z")
            #expect(first.metadata["module"] == "kv")
            #expect(first.metadata["key"] == "k1")
            #expect(first.metadata["bytes"] == .stringConvertible(3))
            #expect(first.metadata["fresh"] == .stringConvertible(true))
            #expect(
                first.metadata["where"]
                    == .dictionary(["shard": .array([.stringConvertible(1), .stringConvertible(2)])]))
            #expect(records[1].message == "[ERROR] plain failure for k1")
        }
    }

    /// A `PluginHost` in a swift-service-lifecycle `ServiceGroup`: the group's graceful shutdown
    /// stops every plugin it started; it starts no more afterwards.
    @Test func pluginHostStopsItsPluginsWhenTheServiceGroupShutsDown() async throws {
        try await withoutLeaks { reactor in
            let host = PluginHost(reactor: reactor)
            let group = ServiceGroup(
                services: [host], logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
            let running = Task(executorPreference: reactor) { try await group.run() }
            var clients: [PluginClient] = []
            for _ in 0..<3 { clients.append(try await host.start(configuration())) }
            #expect(host.clients.count == 3)
            #expect(ProcessResources.childProcessIDs().count == 3)
            await host.stop(clients[0])
            #expect(host.clients.count == 2)
            await group.triggerGracefulShutdown()
            try await running.value
            for client in clients { #expect(client.exitStatus == .exited(code: 0)) }
            #expect(host.clients.isEmpty)
            let error = await #expect(throws: PluginError.self) { _ = try await host.start(configuration()) }
            #expect(error?.code == .hostShutDown)
            await host.shutdown()  // again: returns at once
        }
    }

    /// With `network: .tcp`, the plugin listens on 127.0.0.1 at the first free port of the range
    /// (the first one is taken here) and both sides check each other through the kernel's
    /// connection table instead of SO_PEERCRED.
    @Test func tcpOnLoopbackAtTheFirstFreePortOfTheRange() async throws {
        try await withoutLeaks { reactor in
            let taken = try Listener.listen(on: .tcp(host: "127.0.0.1", port: 0), reactor: reactor)
            guard case .tcp(_, let takenPort) = taken.address else { throw PluginError(.launchFailed, "no port") }
            var tcp = configuration()
            tcp.network = .tcp(ports: Int(takenPort)...Int(takenPort) + 20)
            let client = try await PluginClient.start(tcp, on: reactor)
            #expect(client.handshake.network == .tcp)
            let port = try #require(Int(client.handshake.address.split(separator: ":").last ?? ""))
            #expect(client.handshake.address.hasPrefix("127.0.0.1:"))
            #expect(port > Int(takenPort) && port <= Int(takenPort) + 20)
            let kv = try client.dispense(KeyValueClient.self, name: "kv")
            try await kv.put("over", value: Data("tcp".utf8))
            #expect(try await kv.get("over") == Data("tcp".utf8))
            await client.stop()
            #expect(client.exitStatus == .exited(code: 0))
            try await taken.close()
        }
    }

    /// A port range with no free port is the plugin's error, reported with its stderr.
    @Test func tcpWithNoFreePortFailsTheStart() async throws {
        try await withoutLeaks { reactor in
            let taken = try Listener.listen(on: .tcp(host: "127.0.0.1", port: 0), reactor: reactor)
            guard case .tcp(_, let takenPort) = taken.address else { throw PluginError(.launchFailed, "no port") }
            var tcp = configuration()
            tcp.network = .tcp(ports: Int(takenPort)...Int(takenPort))
            let error = await expectStartFails(.exitedBeforeHandshake, tcp, on: reactor)
            #expect(error?.message.contains("no free port in \(takenPort)–\(takenPort)") == true)
            try await taken.close()
        }
    }

    /// A handshake naming a listener that is not the plugin's own (here the test process's) is
    /// refused, over unix (SO_PEERCRED) and TCP (the connection table) alike.
    @Test(arguments: ["unix", "tcp"])
    func aListenerNotHeldByThePluginIsRefused(network: String) async throws {
        try await withoutLeaks { reactor in
            let path = FileManager.default.temporaryDirectory.appendingPathComponent(
                "tether-impostor-\(UInt32.random(in: 0...UInt32.max)).sock"
            ).path
            let listener = try Listener.listen(
                on: network == "unix" ? .unix(path: path) : .tcp(host: "127.0.0.1", port: 0), reactor: reactor)
            defer { try? FileManager.default.removeItem(atPath: path) }
            var impostor = configuration(mode: "handshake")
            switch listener.address {
            case .unix(let path): impostor.environment["TETHER_TEST_HANDSHAKE"] = "1|1|unix|\(path)|tether|"
            case .tcp(let host, let port):
                impostor.environment["TETHER_TEST_HANDSHAKE"] = "1|1|tcp|\(host):\(port)|tether|"
            }
            let error = await expectStartFails(.peerMismatch, impostor, on: reactor)
            #expect(
                error?.message.contains("not the plugin") == true
                    || error?.message.contains("no socket of the plugin") == true)
            try await listener.close()
        }
    }

    /// Cancelled instead of shut down gracefully, a PluginHost still escalates with the grace
    /// periods and returns only once the plugin is reaped (here one that ignores SIGTERM).
    @Test func pluginHostStopsItsPluginsWhenCancelled() async throws {
        try await withoutLeaks { reactor in
            let host = PluginHost(reactor: reactor)
            var stubborn = configuration(mode: "stubborn")
            stubborn.shutdownGrace = .milliseconds(100)
            let client = try await host.start(stubborn)
            let running = Task(executorPreference: reactor) { try await host.run() }
            running.cancel()
            try await running.value
            #expect(client.exitStatus == .signaled(signal: SIGKILL, coreDumped: false))
            #expect(ProcessResources.childProcessIDs().isEmpty)
        }
    }

    /// `unixSocketGroup`: the socket directory goes to the group, 0770, so a plugin running as
    /// another user of the group can create its socket there. The group is one this process is
    /// not in, so a directory left in the process's own group fails the test.
    @Test(.enabled(if: canGiveFilesToForeignGroups, "needs root"))
    func socketGroupOpensTheSocketDirectoryToTheGroup() async throws {
        try requireRootForForeignGroups()
        let group = try foreignGroup()
        try await withoutLeaks { reactor in
            var grouped = configuration()
            grouped.unixSocketGroup = String(group.gid)
            let client = try await PluginClient.start(grouped, on: reactor)
            let attributes = try FileManager.default.attributesOfItem(atPath: client.socketDirectory)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o770)
            #expect((attributes[.groupOwnerAccountID] as? NSNumber)?.uint32Value == group.gid)
            #expect(try await client.dispense(KeyValueClient.self, name: "kv").get("x") == nil)
            await client.stop()
            var unknown = configuration()
            unknown.unixSocketGroup = "no-such-group-tether"
            _ = await expectStartFails(.invalidEnvironment, unknown, on: reactor)
        }
    }

    /// A hung plugin (stopped with SIGSTOP) stops answering the session's keepalive pings: the
    /// session fails and a call waiting on it fails instead of hanging.
    @Test func keepaliveDetectsAHungPlugin() async throws {
        try await withoutLeaks { reactor in
            var quick = configuration()
            quick.mux.keepAliveIntervalNanoseconds = 50_000_000
            quick.mux.keepAliveTimeoutNanoseconds = 200_000_000
            let client = try await PluginClient.start(quick, on: reactor)
            let kv = try client.dispense(KeyValueClient.self, name: "kv")
            #expect(try await kv.get("x") == nil)
            try client.process.send(signal: SIGSTOP)
            // The signal is delivered when the plugin next leaves the kernel: until it shows as
            // stopped it may still answer a call.
            let pid = client.process.pid
            #expect(try await eventually(on: reactor) { ProcessResources.processState(pid) == "T" })
            let error = await #expect(throws: RPCError.self) { _ = try await kv.get("x") }
            #expect(error?.code == .connectionLost)
            let message = error?.message ?? ""
            #expect(message.contains("keepalive"), "\(message)")
            try client.process.send(signal: SIGCONT)
            await client.stop()
        }
    }

    /// `pluginLogger` receives the plugin's records under a label of the host's choosing.
    @Test func pluginRecordsGoToThePluginLoggerWhenGiven() async throws {
        try await withoutLeaks { reactor in
            let hostRecords = LogRecorder()
            let pluginRecords = LogRecorder()
            var logging = configuration(mode: "logging")
            logging.logger = hostRecords.logger()
            logging.pluginLogger = pluginRecords.logger()
            let client = try await PluginClient.start(logging, on: reactor)
            try await client.dispense(KeyValueClient.self, name: "kv").put("k2", value: Data("abc".utf8))
            let arrived = try await eventually(on: reactor) { pluginRecords.all.count >= 4 }
            await client.stop()
            #expect(arrived, "the plugin's four records arrived")
            #expect(pluginRecords.all.first?.message == "put k2")
            #expect(pluginRecords.all.first?.metadata["plugin.pid"] == .string("\(client.process.pid)"))
            #expect(hostRecords.all.map(\.message).allSatisfy { $0.hasPrefix("plugin ") })
        }
    }
}
