import Logging
import TetherMux
import TetherRPC

/// How a host starts one plugin.
public struct PluginClientConfiguration: Sendable {
    /// The plugin's executable.
    public var executable: String
    public var arguments: [String] = []
    /// Added to (or, with `inheritEnvironment` false, instead of) the host's environment.
    public var environment: [String: String] = [:]
    public var inheritEnvironment = true
    public var handshake: HandshakeConfiguration
    /// The names of the plugins (services) `dispense` may hand out; empty allows any name the
    /// plugin serves (a name it does not serve fails at the first call: `RPCError` `unknownMethod`).
    public var plugins: Set<String> = []
    /// How the plugin listens: a unix socket (default) or loopback TCP within a port range.
    public var network: PluginNetwork = .unix
    /// A group (name or numeric gid) to give the socket directory (mode 0770) and the plugin's
    /// unix socket (0660): for a plugin that runs as another user of that group. An unknown
    /// group fails `start` with `invalidEnvironment`.
    public var unixSocketGroup: String?
    /// Time from spawn to the handshake line; then the plugin is killed and `start` fails.
    public var startTimeout: Duration = .seconds(10)
    /// How long `kill()` waits for the plugin to exit after each step (quit, SIGTERM).
    public var shutdownGrace: Duration = .seconds(2)
    /// Receives the plugin's stdout lines (before the handshake and after it).
    public var stdoutSink: @Sendable (String) -> Void = { _ in }
    /// Receives the plugin's stderr lines verbatim (they are logged through `logger` as well).
    public var stderrSink: @Sendable (String) -> Void = { _ in }
    /// Where Tether reports this plugin's life (started, exited, kill escalations) and where the
    /// plugin's stderr lines go as records (``PluginLogRecord``: hclog JSON lines at their level,
    /// others as text), with `plugin.name` (the executable's file name) and `plugin.pid` metadata.
    /// Discards everything by default; pass your application's logger.
    public var logger = Logger(label: "tether.plugin", factory: { _ in SwiftLogNoOpLogHandler() })
    /// Where the plugin's stderr records go instead of `logger`, e.g. `Logger(label: "kv-plugin")`
    /// for records labelled with the plugin (`plugin.name` and `plugin.pid` are added as metadata).
    public var pluginLogger: Logger?
    /// Kept for the "exited before its handshake" error: the last bytes of stderr.
    public var stderrTailBytes = 4 * 1024
    public var mux = MuxConfiguration()
    /// Options of the RPC channels `dispense` makes.
    public var rpc = RPCConfiguration()

    public init(executable: String, handshake: HandshakeConfiguration) {
        self.executable = executable
        self.handshake = handshake
    }
}
