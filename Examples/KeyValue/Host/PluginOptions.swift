import ArgumentParser
import Foundation
import KeyValueExample
import Logging
import Tether
import TetherReactor

/// Which plugin to start and how much of its life to log; shared by the subcommands.
struct PluginOptions: ParsableArguments {
    @Option(help: "The plugin executable (default: kv-plugin next to kv-host).")
    var plugin: String?

    @Flag(help: "Use kv-host's built-in plugin `memory` (this binary, started again as the plugin).")
    var builtIn = false

    @Flag(help: "Also log Tether's debug records (plugin started, exited).")
    var verbose = false

    /// `kv-plugin` in the directory of this executable, as SwiftPM builds both.
    static var pluginBesideHost: String {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("kv-plugin").path
    }

    /// Starts the plugin on a reactor of its own, hands its store to `body`, then stops the plugin
    /// and the reactor (also when `body` throws) and returns how the plugin exited.
    func withStore(_ body: (KeyValueStoreClient) async throws -> Void) async throws -> ExitStatus? {
        // The same API for both: only the configuration differs.
        var configuration =
            builtIn
            ? PluginClientConfiguration.builtIn("memory", handshake: KVHost.handshake)
            : PluginClientConfiguration(executable: plugin ?? Self.pluginBesideHost, handshake: KVHost.handshake)
        // The plugin's stderr lines (hclog JSON) arrive here as records, keys as metadata.
        var logger = Logger(label: "kv-plugin", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = verbose ? .debug : .info
        configuration.logger = logger

        let reactor = try Reactor.start()
        do {
            // Tether's I/O runs on the reactor's thread; running the work there too saves a hop
            // per call.
            let status = try await withTaskExecutorPreference(reactor) {
                // withPlugin stops the plugin when the body returns or throws.
                let client = try await withPlugin(configuration, on: reactor) { client in
                    try await body(client.dispense(KeyValueStoreClient.self, name: KeyValuePlugin.serviceName))
                    return client
                }
                return client.exitStatus
            }
            await reactor.shutdown()
            return status
        } catch {
            await reactor.shutdown()
            throw error
        }
    }
}
