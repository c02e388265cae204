/// How a plugin listens for its host's connection.
public enum PluginNetwork: Sendable, Equatable {
    /// A unix socket in a private (0700) directory; both sides check each other with `SO_PEERCRED`.
    case unix
    /// TCP on 127.0.0.1, on the first free port of `ports` (go-plugin's `PLUGIN_MIN_PORT` and
    /// `PLUGIN_MAX_PORT`). Both sides check each other through the kernel's connection table:
    /// the host that the listening socket belongs to the process it spawned, the plugin that
    /// the connecting socket belongs to its parent (or at least to its own user).
    case tcp(ports: ClosedRange<Int>)

    /// go-plugin's default port range.
    public static let defaultPorts = 10_000...25_000
}
