import SystemPackage
import TetherReactor
import TetherTesting

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// go-plugin's own launch, the baseline of `bench launch --peer go`: the `goplugin-launch` peer
/// (Benchmarks/peers/goplugin, built by `make go-peer`) is a Go host launching itself as a Go
/// net/rpc plugin through go-plugin 1.0.1, and prints its figures.
enum GoPluginLaunch {
    static var executablePath: String {
        URL(fileURLWithPath: GoYamuxPeer.executablePath).deletingLastPathComponent()
            .appendingPathComponent("goplugin-launch").path
    }

    static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: executablePath) }

    /// `count` go-plugin launches one after another: each phase's milliseconds (named as
    /// `bench launch` names Tether's) and each plugin's RSS and anonymous memory in MiB after its
    /// first call.
    static func sequential(count: Int, reactor: Reactor) async throws -> ([String: [Double]], [String: [Double]]) {
        let output = try await run(["-mode", "sequential", "-count", "\(count)"], reactor: reactor)
        var phases: [String: [Double]] = [:]
        var memory: [String: [Double]] = [:]
        for line in output.split(separator: "\n") where line.hasPrefix("launch ") {
            let fields = GoPair.fields(String(line), line: "launch ")
            guard let start = fields["start_us"], let call = fields["call_us"], let stop = fields["stop_us"],
                let total = fields["total_us"], let rss = fields["plugin_rss_kb"],
                let anonymous = fields["plugin_anon_kb"]
            else { throw BenchError("goplugin-launch: unexpected line \(line)") }
            for (name, microseconds) in zip(LaunchFigures.phases, [start, call, start + call, stop, total]) {
                phases[name, default: []].append(microseconds / 1e3)
            }
            memory[LaunchFigures.rss, default: []].append(rss / 1024)
            memory[LaunchFigures.anonymous, default: []].append(anonymous / 1024)
        }
        guard phases["total"]?.count == count else { throw BenchError("goplugin-launch: \(output)") }
        return (phases, memory)
    }

    /// `count` go-plugin plugins started at once, each called once, all killed: the figures of
    /// `bench launch`'s concurrent table it measures.
    static func concurrent(count: Int, reactor: Reactor) async throws -> [String: Double] {
        let output = try await run(["-mode", "concurrent", "-count", "\(count)"], reactor: reactor)
        let fields = GoPair.fields(output, line: "concurrent ")
        guard let started = fields["started_ms"], let called = fields["called_ms"],
            let stopped = fields["stopped_ms"], let heap = fields["host_heap_kb_per_plugin"],
            let rss = fields["plugin_rss_kb"]
        else { throw BenchError("goplugin-launch: \(output)") }
        return [
            "all started": started, "all called": called, "all stopped": stopped, "host heap per plugin": heap,
            LaunchFigures.rss: rss / 1024,
        ]
    }

    /// Runs the peer to its end and returns its stdout; its stderr (yamux's complaints about
    /// killed plugins) is kept and shown only when it fails.
    private static func run(_ arguments: [String], reactor: Reactor) async throws -> String {
        let peer = try OutputProcess.spawn(executablePath, arguments, capturingErrors: true, reactor: reactor)
        try await peer.closeWriteEnds()
        async let text = GoPair.readAll(peer.output)
        async let errorText = GoPair.readAll(peer.errors!)
        let (stdout, stderr) = try await (text, errorText)
        let status = try await peer.finish()
        guard status == .exited(code: 0) else {
            throw BenchError("goplugin-launch \(arguments.joined(separator: " ")): \(status)\n\(stdout)\(stderr)")
        }
        return stdout
    }
}
