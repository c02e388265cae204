import ArgumentParser

/// `swift run -c release bench <scenario>`: Tether's benchmark suite. Every figure is printed
/// beside a baseline measured in the same run.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Tether benchmarks: each figure beside a baseline measured in the same run.",
        subcommands: [
            RawCommand.self, ThroughputCommand.self, RoundTripCommand.self, ChurnCommand.self, StreamsCommand.self,
            RPCCommand.self, LaunchCommand.self, FdsCommand.self, IsolationCommand.self, PeerCommand.self,
            ReportCommand.self, PluginServeCommand.self, FloodPeerCommand.self, SoakCommand.self,
        ]
    )
}
