import ArgumentParser
import KeyValueExample

/// `kv-host demo`: every kind of call once, printing one line per step (deterministic output).
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Put, get, delete, watch a prefix while keys change, bulk-load 1,000 entries.")

    @OptionGroup var options: PluginOptions

    func run() async throws {
        let status = try await options.withStore { store in
            try await Self.unaryCalls(store)
            try await Self.watchWhileWriting(store)
            try await Self.bulkLoad(store)
        }
        print("plugin \(status.map { "\($0)" } ?? "status unknown")")
    }

    static func unaryCalls(_ store: KeyValueStoreClient) async throws {
        for (key, value) in [("a", "1"), ("a1", "x"), ("b", "2")] {
            try await store.put(key, value: value)
            print("put \(key) = \(value)")
        }
        for key in ["a", "c"] {
            print("get \(key) = \(try await store.get(key) ?? "nil")")
        }
        for _ in 0..<2 {
            print("delete b = \(try await store.delete("b"))")
        }
    }

    /// Watches prefix `a` in a child task while this one writes. Only the watcher prints here, so
    /// that the output does not depend on how the two tasks interleave.
    static func watchWhileWriting(_ store: KeyValueStoreClient) async throws {
        let (ready, isReady) = AsyncStream<Void>.makeStream()
        async let watched = printChanges(of: store, prefix: "a", stoppingAfter: 5, ready: isReady)
        // The first change received means the plugin registered the watch: later writes reach it.
        for await _ in ready { break }
        try await store.put("a2", value: "y")
        try await store.put("b", value: "3")  // not under the prefix: not reported
        _ = try await store.delete("a1")
        try await store.put("a", value: "10")
        print("watch stopped after \(try await watched) changes")
    }

    /// Prints each change under `prefix` (first the current entries, `a` and `a1`), and stops
    /// iterating after `limit`: that ends the call, and the plugin removes its watcher.
    static func printChanges(
        of store: KeyValueStoreClient, prefix: String, stoppingAfter limit: Int,
        ready: AsyncStream<Void>.Continuation
    ) async throws -> Int {
        defer { ready.finish() }
        var seen = 0
        for try await change in try await store.watch(prefix: prefix) {
            print(change.value.map { "watch \(change.key) = \($0)" } ?? "watch \(change.key) deleted")
            if seen == 0 { ready.yield() }
            seen += 1
            if seen == limit { break }
        }
        return seen
    }

    static func bulkLoad(_ store: KeyValueStoreClient) async throws {
        // Produced as the plugin reads them: the mux window keeps at most a window's worth in flight.
        let entries = RPCStream<Entry> { writer in
            for index in 0..<1_000 {
                try await writer.yield(Entry(key: "bulk/\(index)", value: "v\(index)"))
            }
        }
        print("loaded \(try await store.load(entries))")
        print("get bulk/999 = \(try await store.get("bulk/999") ?? "nil")")
    }
}
