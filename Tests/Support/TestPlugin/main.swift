// A plugin executable for the plugin-runtime tests. `TETHER_TEST_PLUGIN_MODE` picks a behaviour:
// serve (default), stray (prints a line before serving), exit-early (stderr, exit 3), silent
// (never hands shake), bad-core / grpc (a handshake Tether must refuse). `TETHER_TEST_PLUGIN_VERSIONS`
// lists the app versions it serves (default 1).
import Foundation
import RPCFixtures
import Tether

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
case "bad-core":
    say("2|1|unix|/nonexistent.sock|tether|")
    try await Task.sleep(for: .seconds(3600))
case "grpc":
    say("1|1|unix|/nonexistent.sock|grpc|")
    try await Task.sleep(for: .seconds(3600))
case let mode:
    if mode == "stray" { say("kvplugin: loading configuration") }
    var services: [Int: [String: any RPCService]] = [:]
    for version in versions { services[version] = ["kv": KeyValueService(Store())] }
    exit(await PluginServer.serve(handshake: handshake, services: services))
}
