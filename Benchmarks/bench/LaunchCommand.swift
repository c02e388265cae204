import ArgumentParser
import Foundation
import Tether
import TetherReactor
import TetherTesting

/// The handshake between `bench launch` and the plugin it starts (this executable, re-run as
/// `bench plugin-serve`).
let benchPluginHandshake = HandshakeConfiguration(
    cookieKey: "TETHER_BENCH_PLUGIN", cookieValue: "9c2e5b7a41d06f38", appVersions: [1])

/// How the launch benchmarks start the bench binary as a plugin (`bench plugin-serve`).
func benchPluginConfiguration(_ executable: String, startTimeout: Duration) -> PluginClientConfiguration {
    var configuration = PluginClientConfiguration(executable: executable, handshake: benchPluginHandshake)
    configuration.arguments = ["plugin-serve"]
    configuration.startTimeout = startTimeout
    return configuration
}

/// `count` bench plugins started at once by `host`.
func startBenchPlugins(
    _ count: Int, executable: String, startTimeout: Duration, host: PluginHost, reactor: Reactor
) async throws -> [PluginClient] {
    try await withThrowingTaskGroup(of: PluginClient.self) { group in
        for _ in 0..<count {
            group.addTask(executorPreference: reactor) {
                try await host.start(benchPluginConfiguration(executable, startTimeout: startTimeout))
            }
        }
        return try await group.reduce(into: []) { $0.append($1) }
    }
}

/// One 64-byte echo call on each of `clients`, all at once.
func echoOnceEach(_ clients: [PluginClient], reactor: Reactor) async throws {
    let payload = Data(repeating: 7, count: 64)
    try await withThrowingTaskGroup(of: Void.self) { group in
        for client in clients {
            group.addTask(executorPreference: reactor) {
                guard try await client.dispense(BenchEchoClient.self, name: "echo").echo(payload) == payload else {
                    throw BenchError("echo mismatch")
                }
            }
        }
        try await group.waitForAll()
    }
}

/// `bench launch`: a plugin's whole life from the host — spawn → handshake → first call →
/// shutdown — one at a time and 100 at once, beside the floor of the same run (spawning this
/// executable and waiting for it to exit, no plugin work), with the host fds each plugin costs.
struct LaunchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launch", abstract: "Plugin launch → first call → shutdown latency, and 100 plugins at once.")

    @Option(help: "Plugins launched one after another per run.") var launches = 50
    @Option(help: "Plugins launched at once.") var concurrent = 100
    @Option var runs = 3
    @OptionGroup var output: ResultOptions

    func run() async throws {
        let reactor = try Reactor.start(configuration: benchReactorConfiguration)
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let title = "bench launch: the bench binary as a plugin (64-byte echo), \(runs) runs"
        let tables = try await withTaskExecutorPreference(reactor) {
            print("## \(title)\n")
            var floor: [Double] = []
            var phases: [String: [Double]] = [:]
            for _ in 0..<runs {
                floor += try await Self.spawnFloor(executable: executable, count: launches, reactor: reactor)
                for (name, values) in try await Self.sequential(
                    executable: executable, count: launches, reactor: reactor)
                {
                    phases[name, default: []] += values
                }
            }
            let floorMedian = Summary(floor).median
            print(padded("one at a time", 38) + padded("p50 ms", 10) + padded("p99 ms", 10) + "p50 / spawn floor")
            print(
                padded("spawn + exit (floor)", 38) + padded(format(floorMedian, 2), 10)
                    + padded(format(Summary(floor).percentile(99), 2), 10) + "1.00×")
            let phaseNames = [
                "start (spawn → handshake → session)", "first call", "shutdown (quit → reaped)", "total",
            ]
            for name in phaseNames {
                let summary = Summary(phases[name]!)
                print(
                    padded(name, 38) + padded(format(summary.median, 2), 10)
                        + padded(format(summary.percentile(99), 2), 10)
                        + format(summary.median / floorMedian, 2) + "×")
            }
            print("")
            let sequential = ResultTable(
                id: "launch", title: "bench launch: one plugin at a time, \(launches) per run, \(runs) runs",
                subtitle: "p50/p99 of every launch; the floor spawns the same binary doing nothing and reaps it",
                labelHeader: "plugins", seriesHeader: "phase", ratioHeader: "p50 / spawn floor",
                chart: ChartSpec(metric: "time", higherIsBetter: false),
                rows: [
                    ResultRow(
                        label: "one at a time",
                        tether: phaseNames.map { name in
                            Series(
                                name, [.percentiles("time", "ms", of: phases[name]!, digits: 2)],
                                ratio: Summary(phases[name]!).median / floorMedian)
                        },
                        baselines: [Series("spawn + exit (floor)", [.percentiles("time", "ms", of: floor, digits: 2)])])
                ])
            print(
                padded("\(concurrent) at once", 16) + padded("all started ms", 24) + padded("all called ms", 16)
                    + padded("all stopped ms", 16) + padded("host fds/plugin", 17) + "fds, children after")
            var measured: [String: [Double]] = [:]
            for _ in 0..<runs {
                let (row, figures) = try await Self.concurrentRun(
                    executable: executable, count: concurrent, reactor: reactor)
                print(row)
                for (name, value) in figures { measured[name, default: []].append(value) }
            }
            print("")
            let concurrentFigures: [Figure] = [
                ("all started", "ms", 1), ("all called", "ms", 1), ("all stopped", "ms", 1),
                ("host fds per plugin", "", 2), ("fds after", "", 0), ("children after", "", 0),
            ].map { name, unit, digits in .median(name, unit, of: measured[name]!, digits: digits) }
            let concurrentTable = ResultTable(
                id: "launch-concurrent", title: "bench launch: \(concurrent) plugins at once on one PluginHost",
                subtitle: "median [min–max] of \(runs) runs; ms from the first start",
                labelHeader: "plugins", seriesHeader: "host",
                rows: [
                    ResultRow(
                        label: "\(concurrent) at once", tether: [Series("PluginHost", concurrentFigures)], baselines: []
                    )
                ])
            return [sequential, concurrentTable]
        }
        await reactor.shutdown()
        try output.write(
            scenario: "launch",
            parameters: ["launches": .int(launches), "concurrent": .int(concurrent), "runs": .int(runs)],
            tables: tables)
    }

    /// Milliseconds to spawn this executable doing nothing (`bench exit-now`) and reap it.
    private static func spawnFloor(executable: String, count: Int, reactor: Reactor) async throws -> [Double] {
        let clock = ContinuousClock()
        var samples: [Double] = []
        for _ in 0..<count {
            let start = clock.now
            let child = try ChildProcess.spawn(
                executable: executable, arguments: ["exit-now"], environment: [], on: reactor)
            guard try await child.waitForExit() == .exited(code: 0) else { throw BenchError("exit-now failed") }
            try await child.close()
            samples.append((clock.now - start).seconds * 1e3)
        }
        return samples
    }

    /// Milliseconds of each phase of `count` plugin lives, one after another.
    private static func sequential(executable: String, count: Int, reactor: Reactor) async throws -> [String: [Double]]
    {
        let clock = ContinuousClock()
        let payload = Data(repeating: 7, count: 64)
        var phases: [String: [Double]] = [:]
        for _ in 0..<count {
            let start = clock.now
            let client = try await PluginClient.start(
                benchPluginConfiguration(executable, startTimeout: .seconds(30)), on: reactor)
            let started = clock.now
            guard try await client.dispense(BenchEchoClient.self, name: "echo").echo(payload) == payload else {
                throw BenchError("echo mismatch")
            }
            let called = clock.now
            await client.kill()
            guard client.exitStatus == .exited(code: 0) else {
                throw BenchError("plugin ended \(String(describing: client.exitStatus))")
            }
            let stopped = clock.now
            phases["start (spawn → handshake → session)", default: []].append((started - start).seconds * 1e3)
            phases["first call", default: []].append((called - started).seconds * 1e3)
            phases["shutdown (quit → reaped)", default: []].append((stopped - called).seconds * 1e3)
            phases["total", default: []].append((stopped - start).seconds * 1e3)
        }
        return phases
    }

    /// `count` plugins started at once by one `PluginHost`, each called once, all stopped: the
    /// text row and its figures by name.
    private static func concurrentRun(executable: String, count: Int, reactor: Reactor) async throws
        -> (String, [String: Double])
    {
        let fdsBefore = ProcessResources.openFileDescriptorCount()
        let clock = ContinuousClock()
        let host = PluginHost(reactor: reactor)
        let start = clock.now
        let clients = try await startBenchPlugins(
            count, executable: executable, startTimeout: .seconds(30), host: host, reactor: reactor)
        let started = clock.now
        let fdsPerPlugin = Double(ProcessResources.openFileDescriptorCount() - fdsBefore) / Double(count)
        try await echoOnceEach(clients, reactor: reactor)
        let called = clock.now
        await host.shutdown()
        let stopped = clock.now
        let fdsAfter = ProcessResources.openFileDescriptorCount() - fdsBefore
        let children = ProcessResources.childProcessIDs().count
        let row =
            padded("", 16) + padded(format((started - start).seconds * 1e3, 1), 24)
            + padded(format((called - start).seconds * 1e3, 1), 16)
            + padded(format((stopped - start).seconds * 1e3, 1), 16)
            + padded(format(fdsPerPlugin, 2), 17) + "\(fdsAfter >= 0 ? "+" : "")\(fdsAfter), \(children)"
        return (
            row,
            [
                "all started": (started - start).seconds * 1e3, "all called": (called - start).seconds * 1e3,
                "all stopped": (stopped - start).seconds * 1e3, "host fds per plugin": fdsPerPlugin,
                "fds after": Double(fdsAfter), "children after": Double(children),
            ]
        )
    }
}

/// `bench plugin-serve`: this executable as the plugin `bench launch` starts.
struct PluginServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plugin-serve", shouldDisplay: false)

    func run() async throws {
        let status = await PluginServer.serve(
            handshake: benchPluginHandshake, services: [1: ["echo": BenchEchoService()]])
        if status != 0 { throw ExitCode(status) }
    }
}

/// `bench exit-now`: starts and exits; the floor `bench launch` compares against.
struct ExitNowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "exit-now", shouldDisplay: false)

    func run() async throws {}
}
