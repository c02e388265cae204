import KeyValueExample
import Logging
import Synchronization

/// The example's ``KeyValueStore``: a dictionary in memory plus the open watches. kv-plugin serves
/// it, and so does kv-host's built-in plugin `memory`.
///
/// One lock guards both, so a watch's first entries and the changes it is told of later come in
/// the order the store saw them, with nothing missed or repeated in between.
public final class MemoryStore: KeyValueStore, Sendable {
    private struct Watcher {
        var prefix: String
        var changes: AsyncStream<Change>.Continuation
    }

    private struct State {
        var values: [String: String] = [:]
        var watchers: [Int: Watcher] = [:]
        var nextWatcher = 0

        /// Tells every watcher whose prefix matches; called with the lock held.
        func notify(_ change: Change) {
            for watcher in watchers.values where change.key.hasPrefix(watcher.prefix) {
                watcher.changes.yield(change)
            }
        }
    }

    private let state = Mutex(State())
    /// Records go to stderr as hclog JSON lines (`PluginLogHandler`, which the plugin's main
    /// bootstraps).
    private let logger = Logger(label: "kv-plugin")

    public init() {}

    public func get(_ key: String) async throws -> String? {
        state.withLock { $0.values[key] }
    }

    public func put(_ key: String, value: String) async throws {
        store(key, value)
        logger.info("put", metadata: ["key": "\(key)"])
    }

    public func delete(_ key: String) async throws -> Bool {
        state.withLock { state in
            guard state.values.removeValue(forKey: key) != nil else { return false }
            state.notify(Change(key: key, value: nil))
            return true
        }
    }

    public func watch(prefix: String) async throws -> RPCStream<Change> {
        // Registered when the stream starts to be sent, so a watch whose response is never sent
        // leaves nothing behind.
        RPCStream { writer in
            // Unbounded: the store never waits for a slow watcher (a real one might cap this and
            // end the watch instead).
            let (changes, continuation) = AsyncStream<Change>.makeStream()
            let (id, current) = self.state.withLock { state in
                defer { state.nextWatcher += 1 }
                state.watchers[state.nextWatcher] = Watcher(prefix: prefix, changes: continuation)
                let current = state.values.filter { $0.key.hasPrefix(prefix) }.sorted { $0.key < $1.key }
                return (state.nextWatcher, current.map { Change(key: $0.key, value: $0.value) })
            }
            defer {
                _ = self.state.withLock { $0.watchers.removeValue(forKey: id) }
                self.logger.info("watch ended", metadata: ["prefix": "\(prefix)"])
            }
            for change in current { try await writer.yield(change) }
            // Ends when the host stops iterating: its reset of the call cancels this task, and a
            // cancelled AsyncStream iteration returns nil.
            for await change in changes { try await writer.yield(change) }
        }
    }

    public func load(_ entries: RPCStream<Entry>) async throws -> Int {
        var count = 0
        for try await entry in entries {
            store(entry.key, entry.value)
            count += 1
        }
        logger.info("load", metadata: ["entries": .stringConvertible(count)])
        return count
    }

    private func store(_ key: String, _ value: String) {
        state.withLock { state in
            state.values[key] = value
            state.notify(Change(key: key, value: value))
        }
    }
}
