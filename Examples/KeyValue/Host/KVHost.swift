import ArgumentParser

/// kv-host: starts kv-plugin and drives its key-value store (`kv-host demo`).
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
}
