import CoreMetrics
import Logging
import TetherMux
import TetherRPC

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// How a host starts one plugin.
public struct PluginClientConfiguration: Sendable {
    /// The plugin's executable.
    public var executable: String
    /// The plugin's name in log metadata (`plugin.name`) and metrics (the `plugin` dimension); nil:
    /// the executable's file name. ``builtIn(_:handshake:)`` sets it to the built-in's name.
    public var name: String?
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
    /// Launch the plugin so that it can outlive this host and serve the next one
    /// (``PluginClient/reattachConfiguration``, ``PluginClient/detach()``): it keeps listening
    /// after the first connection and serves one host after another until a host stops it, and
    /// it does not take the parent-death signal, so it survives a host that crashes. The trade:
    /// a host killed with SIGKILL leaves it running, until another host reattaches and stops it
    /// (docs/guide.md, "Reattach and debug mode"). Off by default.
    public var reattachable = false
    /// The one deadline of ``PluginClient/start(_:on:)``: from the spawn to a ready session (the
    /// handshake line, the connect, the peer check, the session and its streams 1, 3 and 5).
    /// Also the deadline of ``PluginClient/reattach(_:configuration:on:)``: from the connect to
    /// the plugin's first answer on the control stream.
    /// When it passes, the plugin is killed and reaped and `start` throws `startTimeout` naming
    /// the phase it was in.
    public var startTimeout: Duration = .seconds(10)
    /// How long ``PluginClient/stop()`` gives the plugin to exit after each step: after the quit
    /// (the session's close) and after SIGTERM; then SIGKILL. Also the most the host waits,
    /// once the plugin has exited, for the end of its output and of its session (a process that
    /// inherited the plugin's pipes or socket could hold them open).
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
    /// How many of the last bytes of the plugin's stderr (from its pipe and from stream 5 alike)
    /// are kept for the errors that explain an exit (`exitedBeforeHandshake`, `pluginExited`)
    /// and for the error record logged when the plugin exits unexpectedly. 16 KiB holds a Swift
    /// crash report (the fatal error's message, the runtime's backtrace: about 5 KB) whole.
    public var stderrTailBytes = 16 * 1024
    public var mux = MuxConfiguration()
    /// Where this plugin's metrics (`tether_plugin_*`) and its session's (`tether_mux_*`) go
    /// (docs/guide.md, "Metrics"); nil: the factory the application bootstrapped, when the plugin
    /// starts (none without one).
    public var metricsFactory: (any MetricsFactory)?
    /// Checks the plugin's binary before it runs (``PluginBinaryVerifier``; TetherSecurity has a
    /// SHA-256 digest and Ed25519 signatures). With one, the host reads the file once, has the
    /// verifier check those bytes, and runs a sealed in-memory copy of them: the file on disk is
    /// never executed, so replacing it after the check changes nothing. Nil: the path is run.
    ///
    /// A verified binary must be a regular file (a FIFO or a device is `notExecutable`, and is
    /// not opened in a way that could block) of at most ``maximumVerifiedBinaryBytes``
    /// (`verificationFailed` past that, found before reading it).
    public var verifier: (any PluginBinaryVerifier)?
    /// The largest binary a ``verifier`` is given: 1 GiB. The whole file is held in memory while
    /// it is checked and sealed, so a larger one (or a sparse file that claims to be) is refused
    /// instead of read.
    public static let maximumVerifiedBinaryBytes = 1 << 30
    /// A host's cache of verified binaries (``VerifiedBinaryCache``, with its own verifier): the
    /// binary is read, verified and sealed once, and later starts of the same unchanged file run
    /// that sealed copy without reading or checking it again. Takes the place of ``verifier``.
    public var verifiedBinaries: VerifiedBinaryCache?
    /// Options of the RPC channels `dispense` makes.
    public var rpc = RPCConfiguration()

    public init(executable: String, handshake: HandshakeConfiguration) {
        self.executable = executable
        self.handshake = handshake
    }

    /// ``name``, or the executable's file name.
    var displayName: String {
        name ?? URL(fileURLWithPath: executable).lastPathComponent
    }

    /// What gives a logger this plugin's metadata: `plugin.name` (``displayName``) and
    /// `plugin.pid`.
    func namingLogger(pid: Int32) -> @Sendable (Logger) -> Logger {
        let name = displayName
        return { base in
            var logger = base
            logger[metadataKey: "plugin.name"] = "\(name)"
            logger[metadataKey: "plugin.pid"] = "\(pid)"
            return logger
        }
    }
}
