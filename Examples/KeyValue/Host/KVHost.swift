import ArgumentParser
import Foundation
import KeyValueExample
import KeyValueMemoryStore
import Logging
import Tether

/// kv-host: starts kv-plugin (or its own built-in plugin `memory`) and drives its key-value store
/// (`kv-host demo`, `kv-host demo --built-in`).
///
/// `@main` rather than a `main.swift` calling `await KVHost.main()`: from top-level code that call
/// resolves to `ParsableCommand`'s synchronous `main()`, which refuses an async command.
@main
struct KVHost: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kv-host",
        abstract: "Starts the kv-plugin plugin and drives its key-value store over Tether.",
        subcommands: [Demo.self],
        defaultSubcommand: Demo.self)

    /// The plugins built into this binary: the same store kv-plugin serves.
    static let builtInPlugins = [
        "memory": BuiltInPlugin(
            services: [KeyValuePlugin.appVersion: [KeyValuePlugin.serviceName: KeyValueStoreService(MemoryStore())]])
    ]

    static let handshake = HandshakeConfiguration(
        cookieKey: KeyValuePlugin.cookieKey, cookieValue: KeyValuePlugin.cookieValue,
        appVersions: [KeyValuePlugin.appVersion])

    /// Serves a built-in plugin when this process was started as one (by `demo --built-in`),
    /// before any argument is parsed; otherwise runs the command line.
    static func main() async {
        if ProcessInfo.processInfo.environment[PluginServer.builtInPluginVariable] != nil {
            // As a plugin, every Logger writes hclog JSON lines to stderr, as kv-plugin's do.
            LoggingSystem.bootstrap(PluginLogHandler.init(label:))
        }
        if let status = await PluginServer.serveBuiltIn(builtInPlugins, handshake: handshake) {
            Foundation.exit(status)
        }
        await main(nil)
    }
}
