// A plugin executable for the plugin-runtime tests. `TETHER_TEST_PLUGIN_MODE` picks a behaviour:
// serve (default), stray (prints a line before serving), prints-before-serve (two lines through
// `print`, unflushed, before serving), exit-early (stderr, exit 3), exit-78 (stderr, exit 78),
// exit-early-leaving-a-helper (the same, leaving a `sleep 60` that holds its stderr and
// printing `helper PID`), silent,
// host (starts a serving plugin itself and prints `child PID`), host-without-connecting, stubborn, lingering, chatty,
// handshake (prints TETHER_TEST_HANDSHAKE as its handshake line), logging (every put writes an hclog JSON line, a plain `[ERROR]` line and a 70,000-byte line to stderr),
// (never hands shake), bad-core / grpc (a handshake Tether must refuse). `TETHER_TEST_PLUGIN_VERSIONS`
// lists the app versions it serves (default 1). builtin-host / builtin-host-missing: a host that
// starts its own built-in plugin "kv" (or "missing", which it does not have) and reports.
// exit-mid-handshake: exits with status 5 halfway through its handshake (TETHER_TEST_EXIT_AT:
// line, a handshake line cut short; after-accept, right after accepting the host's connection).
//
// Misbehaving plugins: never-reads (a valid handshake, then never accepts nor reads: the host's
// connection waits in the listen queue), never-reads-other-group (the same, after moving itself
// out of the process group it was started in, into its host's), never-accepts (a valid handshake on a listener whose
// queue it filled itself, so the host cannot even connect; over TCP when the host asks),
// crash-fatal (a put writes a line to stderr, then calls fatalError), crash-exit (a put writes a
// line to stderr, then exit(1)), quit-on-put (a put exits with status 0), crash-segv (a put raises SIGSEGV), host-drops-client (a host
// that starts a serving plugin, prints `plugin PID DIRECTORY`, releases the client, shuts its
// reactor down and exits), reattach-host (a second host process: reattaches through
// TETHER_REATTACH_PLUGINS, prints `got VALUE reattached true`, detaches), reattachable-host (launches
// a reattachable plugin, puts "before" under "k", prints its reattach line, waits to be killed;
// with TETHER_TEST_HOST_DETACHES=1 it detaches, shuts its reactor down and exits 0 instead).
import Foundation
import RPCFixtures
import Tether
import TetherReactor

let environment = ProcessInfo.processInfo.environment
let versions = (try? ProtocolVersions.parse(environment["TETHER_TEST_PLUGIN_VERSIONS"] ?? "1")) ?? [1]
let handshake = HandshakeConfiguration(cookieKey: "TETHER_TEST_COOKIE", cookieValue: "plugin", appVersions: versions)

func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

// This binary's built-in plugin "kv" (started by the builtin-host modes through /proc/self/exe).
if let status = await PluginServer.serveBuiltIn(
    ["kv": BuiltInPlugin(services: [1: ["kv": KeyValueService(Store())]])], handshake: handshake)
{
    exit(status)
}

switch environment["TETHER_TEST_PLUGIN_MODE"] ?? "serve" {
case let mode where mode.hasPrefix("builtin-host"):
    // A host that starts its own built-in plugin ("kv"; "missing" in builtin-host-missing), calls
    // it, says whether the plugin runs this very binary, stops it and says how it exited.
    let reactor = try Reactor.start()
    await withTaskExecutorPreference(reactor) {
        do {
            let configuration = PluginClientConfiguration.builtIn(
                mode == "builtin-host" ? "kv" : "missing", handshake: handshake)
            let plugin = try await withPlugin(configuration, on: reactor) { plugin in
                let kv = try plugin.dispense(KeyValueClient.self, name: "kv")
                try await kv.put("k", value: Data("v".utf8))
                say("got \(String(decoding: try await kv.get("k") ?? Data(), as: UTF8.self))")
                let executable = { (pid: Int32) in
                    try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")
                }
                say("same binary \(executable(plugin.process.pid) == executable(getpid()))")
                return plugin
            }
            say("plugin \(plugin.exitStatus.map { "\($0)" } ?? "unknown")")
        } catch let error as PluginError {
            say("error \(error.code): \(error.message)")
        } catch {
            say("error \(error)")
        }
    }
    await reactor.shutdown()
case "exit-early", "exit-early-leaving-a-helper":
    FileHandle.standardError.write(Data("boom: cannot open the database\n".utf8))
    if environment["TETHER_TEST_PLUGIN_MODE"] == "exit-early-leaving-a-helper" {
        // A process of its own that outlives it and keeps its stderr (not its stdout) open.
        let helper = Process()
        helper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        helper.arguments = ["60"]
        helper.standardOutput = FileHandle.nullDevice
        try helper.run()
        FileHandle.standardError.write(Data("helper \(helper.processIdentifier)\n".utf8))
    }
    exit(3)
case "exit-78":
    // EX_CONFIG for a reason of its own: not a refused cookie.
    FileHandle.standardError.write(Data("kvplugin: bad configuration file\n".utf8))
    exit(78)
case "silent":
    try await Task.sleep(for: .seconds(3600))
case "host":
    // A host that starts a plugin (this executable, serving), says its pid, and waits to be killed.
    let reactor = try Reactor.start()
    try await withTaskExecutorPreference(reactor) {
        var configuration = PluginClientConfiguration(
            executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path, handshake: handshake)
        configuration.environment = ["TETHER_TEST_PLUGIN_MODE": "serve"]
        let client = try await PluginClient.start(configuration, on: reactor)
        say("child \(client.process.pid)")
        try await Task.sleep(for: .seconds(3600))
    }
case "host-without-connecting":
    // Starts a plugin and never connects: the plugin waits in accept, so only PR_SET_PDEATHSIG can
    // end it when this host dies.
    let reactor = try Reactor.start()
    try await withTaskExecutorPreference(reactor) {
        let variables = PluginEnvironment.hostVariables(
            handshake: handshake, unixSocketDirectory: nil, hostProcessID: ProcessInfo.processInfo.processIdentifier
        )
        .merging(["TETHER_TEST_PLUGIN_MODE": "serve", "PATH": "/usr/bin:/bin"]) { old, _ in old }
        let child = try ChildProcess.spawn(
            executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path,
            environment: variables.map { "\($0.key)=\($0.value)" }, on: reactor)
        say("child \(child.pid)")
        try await Task.sleep(for: .seconds(3600))
    }
case "host-drops-client":
    // A host that lets go of its client without stop() and stops its reactor right after.
    let reactor = try Reactor.start()
    try await withTaskExecutorPreference(reactor) {
        var configuration = PluginClientConfiguration(
            executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path, handshake: handshake)
        configuration.environment = ["TETHER_TEST_PLUGIN_MODE": "serve"]
        var client: PluginClient? = try await PluginClient.start(configuration, on: reactor)
        say("plugin \(client!.process.pid) \(client!.socketDirectory)")
        client = nil
    }
    await reactor.shutdown()
    say("done")
case "never-reads", "never-reads-other-group", "never-accepts":
    // A valid handshake on a listener nobody accepts from. never-accepts first fills the listen
    // queue with a connection of its own (backlog 0 admits one), so the host's connect waits:
    // on a unix socket in the kernel, over TCP through SYN retransmissions.
    let contract = try PluginEnvironment(environment, handshake: handshake)
    let reactor = try Reactor.start()
    try await withTaskExecutorPreference(reactor) {
        let address: SocketAddress
        switch contract.network {
        case .unix:
            address = .unix(path: "\(contract.unixSocketDirectory ?? NSTemporaryDirectory())/plugin-\(getpid()).sock")
        case .tcp:
            address = .tcp(host: "127.0.0.1", port: 0)
        }
        let fillQueue = environment["TETHER_TEST_PLUGIN_MODE"] == "never-accepts"
        let listener = try Listener.listen(on: address, backlog: fillQueue ? 0 : 1, reactor: reactor)
        let own = fillQueue ? try await StreamSocket.connect(to: listener.address, on: reactor) : nil
        let line: HandshakeLine
        switch listener.address {
        case .unix(let path): line = HandshakeLine(appVersion: 1, network: .unix, address: path)
        case .tcp(let host, let port): line = HandshakeLine(appVersion: 1, network: .tcp, address: "\(host):\(port)")
        }
        if environment["TETHER_TEST_PLUGIN_MODE"] == "never-reads-other-group" {
            // Signals to the group it was started in no longer reach it.
            guard setpgid(0, getpgid(getppid())) == 0 else { fatalError("setpgid: \(errno)") }
        }
        say(line.description)
        try await Task.sleep(for: .seconds(3600))
        withExtendedLifetime((listener, own)) {}
    }
case "reattachable-host":
    // A host that launches a reattachable plugin, puts "before" under "k", prints the plugin's
    // reattach configuration (as a debug line) and waits to be killed.
    let reactor = try Reactor.start()
    try await withTaskExecutorPreference(reactor) {
        var configuration = PluginClientConfiguration(
            executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path, handshake: handshake)
        configuration.environment = ["TETHER_TEST_PLUGIN_MODE": "serve"]
        configuration.reattachable = true
        let client = try await PluginClient.start(configuration, on: reactor)
        try await client.dispense(KeyValueClient.self, name: "kv").put("k", value: Data("before".utf8))
        say(ReattachConfiguration.debugLine(name: "plugin", client.reattachConfiguration!))
        if environment["TETHER_TEST_HOST_DETACHES"] != "1" { try await Task.sleep(for: .seconds(3600)) }
        await client.detach()
    }
    await reactor.shutdown()
    exit(0)
case "reattach-host":
    // A second host process: reattaches to the plugin TETHER_REATTACH_PLUGINS names (under this
    // executable), prints `got VALUE` for the key "k", puts "from-host" under "k2", detaches.
    let reactor = try Reactor.start()
    try await withTaskExecutorPreference(reactor) {
        var configuration = PluginClientConfiguration(
            executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path, handshake: handshake)
        configuration.startTimeout = .seconds(20)
        let client = try await PluginClient.startOrReattach(configuration, on: reactor)
        let kv = try client.dispense(KeyValueClient.self, name: "kv")
        let value = try await kv.get("k")
        try await kv.put("k2", value: Data("from-host".utf8))
        say("got \(String(decoding: value ?? Data(), as: UTF8.self)) reattached \(client.isReattached)")
        await client.detach()
    }
    await reactor.shutdown()
    exit(0)
case "bad-core":
    say("2|1|unix|/nonexistent.sock|tether|")
    try await Task.sleep(for: .seconds(3600))
case "grpc":
    say("1|1|unix|/nonexistent.sock|grpc|")
    try await Task.sleep(for: .seconds(3600))
case "exit-mid-handshake":
    // Exits in the middle of its handshake, with status 5: TETHER_TEST_EXIT_AT=line cuts the
    // handshake line short (no newline); after-accept prints a valid line for a listener of its
    // own, accepts the host's connection and exits before saying anything on it.
    if environment["TETHER_TEST_EXIT_AT"] == "after-accept" {
        let directory = environment[PluginEnvironment.unixSocketDirectoryVariable] ?? "/tmp"
        let path = "\(directory)/exit-mid-handshake.sock"
        let reactor = try Reactor.start()
        let listener = try Listener.listen(on: .unix(path: path), reactor: reactor)
        say("1|1|unix|\(path)|tether|")
        _ = try await listener.accept()
    } else {
        FileHandle.standardOutput.write(Data("1|1|unix|/tmp/tether-cut".utf8))
    }
    exit(5)
case "handshake":
    // Prints TETHER_TEST_HANDSHAKE as its handshake (someone else's listener, a broken line…).
    say(environment["TETHER_TEST_HANDSHAKE"] ?? "")
    try await Task.sleep(for: .seconds(3600))
case let mode:
    if mode == "stray" { say("kvplugin: loading configuration") }
    // prints-before-serve: two lines through Swift's `print`, which C stdio holds back (stdout
    // is a pipe, so fully buffered) until something flushes it.
    if mode == "prints-before-serve" {
        print("kvplugin: loading configuration")
        print("kvplugin: 3 stores found")
    }
    // stubborn: ignores SIGTERM and does not exit when the host quits; lingering: does not exit
    // when the host quits, but SIGTERM ends it.
    if mode == "stubborn" { try ProcessControl.ignore(signal: SIGTERM) }
    var services: [Int: [String: any RPCService]] = [:]
    // chatty: prints every key written, on stdout and on stderr.
    let store: Store
    switch mode {
    case "chatty":
        store = Store(onPut: { key in
            print("put \(key)")
            FileHandle.standardError.write(Data("stderr put \(key)\n".utf8))
        })
    case "crash-fatal":
        store = Store(onPut: { key in
            FileHandle.standardError.write(Data("about to fail on \(key)\n".utf8))
            fatalError("boom: the store is corrupt")
        })
    case "crash-exit":
        store = Store(onPut: { key in
            FileHandle.standardError.write(Data("giving up on \(key): disk full\n".utf8))
            exit(1)
        })
    case "quit-on-put":
        // A put ends the plugin with status 0: a clean exit its host did not ask for.
        store = Store(onPut: { _ in exit(0) })
    case "crash-segv":
        store = Store(onPut: { key in
            FileHandle.standardError.write(Data("about to fault on \(key)\n".utf8))
            // The signal a wild pointer would bring, made without one (no unsafe code here). A
            // fault's instruction runs again once the handlers return, and faults again with the
            // default action (the Swift runtime's handler restores it); a raised signal does not
            // come back by itself, so it is raised a second time.
            raise(SIGSEGV)
            raise(SIGSEGV)
        })
    case "logging":
        store = Store(onPut: { key in
            let json =
                #"{"@level":"warn","@message":"put \#(key)","@timestamp":"2026-11-26T01:02:03.000000Z","#
                + #""@module":"kv","key":"\#(key)","bytes":3,"fresh":true,"where":{"shard":[1,2]}}"#
            let long = String(repeating: "x", count: 70_000)
            FileHandle.standardError.write(Data("\(json)\n[ERROR] plain failure for \(key)\n\(long)\n".utf8))
        })
    default:
        store = Store()
    }
    var instances: [Int: [String: @Sendable () -> any RPCService]] = [:]
    for version in versions {
        services[version] = ["kv": KeyValueService(store), "jobs": JobsService(JobRunner())]
        instances[version] = ["kv-instance": { KeyValueService(Store()) }]  // a store per dispense
    }
    let status = await PluginServer.serve(handshake: handshake, services: services, instances: instances)
    if mode == "stubborn" || mode == "lingering" { try await Task.sleep(for: .seconds(3600)) }
    exit(status)
}
