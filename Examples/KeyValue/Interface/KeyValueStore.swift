@_exported import TetherPluginInterface

/// A string key-value store served by a plugin: the interface `kv-host` and `kv-plugin` share.
///
/// `@PluginInterface` writes `KeyValueStoreClient` (what the host calls) and
/// `KeyValueStoreService` (what the plugin serves its implementation with).
@PluginInterface
public protocol KeyValueStore {
    /// The value stored under `key`, or nil.
    func get(_ key: String) async throws -> String?
    /// Stores `value` under `key`, replacing any earlier value.
    func put(_ key: String, value: String) async throws
    /// Removes `key`; returns whether it was there.
    func delete(_ key: String) async throws -> Bool
    /// The entries whose keys start with `prefix` (in key order), then every later put or delete
    /// of such a key, until the caller stops iterating (server streaming).
    func watch(prefix: String) async throws -> RPCStream<Change>
    /// Stores every entry of `entries`; returns how many it stored (client streaming).
    func load(_ entries: RPCStream<Entry>) async throws -> Int
}
