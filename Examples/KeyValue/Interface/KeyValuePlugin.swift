/// What `kv-host` and `kv-plugin` agree on besides the interface: the magic cookie, the
/// application protocol version and the name the store is served under.
///
/// `HandshakeConfiguration` lives in `Tether`, which an interface module does not import, so each
/// side builds its own from these:
///
/// ```swift
/// HandshakeConfiguration(
///     cookieKey: KeyValuePlugin.cookieKey, cookieValue: KeyValuePlugin.cookieValue,
///     appVersions: [KeyValuePlugin.appVersion])
/// ```
public enum KeyValuePlugin {
    /// The cookie (`KV_EXAMPLE_PLUGIN=…` in the plugin's environment) only tells the plugin binary
    /// that a host started it; it is not a secret.
    public static let cookieKey = "KV_EXAMPLE_PLUGIN"
    public static let cookieValue = "a1a2fd5dfff47425775ae7eec0c5ae56"
    /// The application protocol version ``KeyValueStore`` is.
    public static let appVersion = 1
    /// The service name the plugin registers its store under and the host dispenses.
    public static let serviceName = "kv"
}
