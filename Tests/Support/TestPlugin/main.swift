// A plugin executable for the plugin-runtime tests. `TETHER_TEST_PLUGIN_MODE` picks a behaviour:
// serve (default), stray (prints a line before serving), exit-early (stderr, exit 3), silent,
// host (starts a serving plugin itself and prints `child PID`), host-without-connecting, stubborn, lingering, chatty,
// handshake (prints TETHER_TEST_HANDSHAKE as its handshake line), logging (every put writes an hclog JSON line, a plain `[ERROR]` line and a 70,000-byte line to stderr),
// (never hands shake), bad-core / grpc (a handshake Tether must refuse). `TETHER_TEST_PLUGIN_VERSIONS`
// lists the app versions it serves (default 1).
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

switch environment["TETHER_TEST_PLUGIN_MODE"] ?? "serve" {
case "exit-early":
    FileHandle.standardError.write(Data("boom: cannot open the database\n".utf8))
    exit(3)
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
            handshake: handshake, unixSocketDirectory: nil, hostProcessID: ProcessInfo.processInfo.processIdentifier)
            .merging(["TETHER_TEST_PLUGIN_MODE": "serve", "PATH": "/usr/bin:/bin"]) { old, _ in old }
        let child = try ChildProcess.spawn(
            executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path,
            environment: variables.map { "\($0.key)=\($0.value)" }, on: reactor)
        say("child \(child.pid)")
        try await Task.sleep(for: .seconds(3600))
    }
case "bad-core":
    say("2|1|unix|/nonexistent.sock|tether|")
    try await Task.sleep(for: .seconds(3600))
case "grpc":
    say("1|1|unix|/nonexistent.sock|grpc|")
    try await Task.sleep(for: .seconds(3600))
case "handshake":
    // Prints TETHER_TEST_HANDSHAKE as its handshake (someone else's listener, a broken line…).
    say(environment["TETHER_TEST_HANDSHAKE"] ?? "")
    try await Task.sleep(for: .seconds(3600))
case let mode:
    if mode == "stray" { say("kvplugin: loading configuration") }
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
    case "logging":
        store = Store(onPut: { key in
            let json = #"{"@level":"warn","@message":"put \#(key)","@timestamp":"2026-11-26T01:02:03.000000Z","#
                + #""@module":"kv","key":"\#(key)","bytes":3,"fresh":true,"where":{"shard":[1,2]}}"#
            let long = String(repeating: "x", count: 70_000)
            FileHandle.standardError.write(Data("\(json)\n[ERROR] plain failure for \(key)\n\(long)\n".utf8))
        })
    default:
        store = Store()
    }
    var instances: [Int: [String: @Sendable () -> any RPCService]] = [:]
    for version in versions {
        services[version] = ["kv": KeyValueService(store)]
        instances[version] = ["kv-instance": { KeyValueService(Store()) }]  // a store per dispense
    }
    let status = await PluginServer.serve(handshake: handshake, services: services, instances: instances)
    if mode == "stubborn" || mode == "lingering" { try await Task.sleep(for: .seconds(3600)) }
    exit(status)
}
