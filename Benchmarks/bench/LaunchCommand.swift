import ArgumentParser
import BenchEcho
import Crypto
import Foundation
import SystemPackage
import Tether
import TetherReactor
import TetherSecurity
import TetherTesting

/// The plugin the launch benchmarks start: `bench-plugin` beside this executable (small, no
/// Foundation, the standard library linked in, as docs/guide.md recommends for plugins), or, when
/// it was not built, this executable as `bench plugin-serve`.
struct BenchPlugin: Sendable {
    let executable: String
    let arguments: [String]
    /// How it is built, for the tables.
    let description: String

    static func locate() -> BenchPlugin {
        // The executable of the same build (a bare name when there is none).
        let small = TestExecutables.path("bench-plugin")
        if small.hasPrefix("/") {
            return BenchPlugin(executable: small, arguments: [], description: "bench-plugin")
        }
        return BenchPlugin(
            executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path,
            arguments: ["plugin-serve"], description: "the bench binary (bench-plugin not built)")
    }

    func configuration(startTimeout: Duration) -> PluginClientConfiguration {
        var configuration = PluginClientConfiguration(executable: executable, handshake: benchPluginHandshake)
        configuration.arguments = arguments
        configuration.startTimeout = startTimeout
        return configuration
    }
}

/// Names of `bench launch`'s figures, shared by Tether's side and go-plugin's.
enum LaunchFigures {
    /// The phases of one plugin's life, timed one at a time.
    static let phases = [
        "start (spawn → handshake → session)", "first call", "launch → first call", "shutdown (quit → reaped)",
        "total",
    ]
    static let rss = "plugin RSS"
    static let anonymous = "plugin anonymous memory"
    /// The plugin's memory after its first call: all of it, and what is not the binary's pages.
    static let memory = [rss, anonymous]
}

/// `count` bench plugins started at once by `host`.
func startBenchPlugins(
    _ count: Int, plugin: BenchPlugin, startTimeout: Duration, host: PluginHost, reactor: Reactor
) async throws -> [PluginClient] {
    try await withThrowingTaskGroup(of: PluginClient.self) { group in
        for _ in 0..<count {
            group.addTask(executorPreference: reactor) {
                try await host.start(plugin.configuration(startTimeout: startTimeout))
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
/// shutdown — one at a time and 100 at once, beside the floor of the same run (spawning the
/// plugin binary without a host, which exits at once) and, with `--peer go`, go-plugin's own
/// launch (a Go host launching a Go net/rpc plugin), with the memory and descriptors each plugin
/// costs.
struct LaunchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launch", abstract: "Plugin launch → first call → shutdown latency, and 100 plugins at once.")

    @Option(help: "Plugins launched one after another per run.") var launches = 50
    @Option(help: "Plugins launched at once.") var concurrent = 100
    @Option var runs = 3
    @Option(help: "`go`: also go-plugin's own launch (a Go host and a Go net/rpc plugin), same run.") var peer: String?
    @OptionGroup var output: ResultOptions

    private static let phaseNames = LaunchFigures.phases

    private static let memoryNames = LaunchFigures.memory

    func validate() throws {
        guard peer == nil || peer == "go" else { throw ValidationError("--peer takes `go`") }
        if peer == "go", !GoPluginLaunch.isAvailable {
            throw ValidationError("--peer go needs the go-plugin launch peer: `make go-peer`")
        }
    }

    func run() async throws {
        let reactor = try Reactor.start(configuration: benchReactorConfiguration)
        let plugin = BenchPlugin.locate()
        let title = "bench launch: \(plugin.description) as the plugin (64-byte echo), \(runs) runs"
        let tables = try await withTaskExecutorPreference(reactor) {
            print("## \(title)\n")
            var floor: [Double] = []
            var phases: [String: [Double]] = [:]
            var pluginMemory: [String: [Double]] = [:]
            var goPhases: [String: [Double]] = [:]
            var goMemory: [String: [Double]] = [:]
            for _ in 0..<runs {
                floor += try await Self.spawnFloor(plugin, count: launches, reactor: reactor)
                let (measured, memory) = try await Self.sequential(plugin, count: launches, reactor: reactor)
                for (name, values) in measured { phases[name, default: []] += values }
                pluginMemory.merge(memory, uniquingKeysWith: +)
                if peer == "go" {
                    let (measured, memory) = try await GoPluginLaunch.sequential(count: launches, reactor: reactor)
                    for (name, values) in measured { goPhases[name, default: []] += values }
                    goMemory.merge(memory, uniquingKeysWith: +)
                }
            }
            let sequential = Self.sequentialTable(
                launches: launches, phases: phases, floor: floor, pluginMemory: pluginMemory, goPhases: goPhases,
                goMemory: goMemory)
            print("")
            var measured: [String: [Double]] = [:]
            var goMeasured: [String: [Double]] = [:]
            for _ in 0..<runs {
                for (name, value) in try await Self.concurrentRun(plugin, count: concurrent, reactor: reactor) {
                    measured[name, default: []].append(value)
                }
                if peer == "go" {
                    for (name, value) in try await GoPluginLaunch.concurrent(count: concurrent, reactor: reactor) {
                        goMeasured[name, default: []].append(value)
                    }
                }
            }
            let concurrentTable = Self.concurrentTable(count: concurrent, measured: measured, goMeasured: goMeasured)
            print("")
            var verified: [String: [Double]] = [:]
            for _ in 0..<runs {
                for (name, values) in try await Self.verifiedLaunches(plugin, count: launches, reactor: reactor) {
                    verified[name, default: []] += values
                }
            }
            return [sequential, concurrentTable, Self.verifiedTable(launches: launches, measured: verified)]
        }
        await reactor.shutdown()
        try output.write(
            scenario: "launch",
            parameters: [
                "launches": .int(launches), "concurrent": .int(concurrent), "runs": .int(runs),
                "peer": .string(peer ?? "none"), "plugin": .string(plugin.description),
            ],
            tables: tables)
    }

    /// The one-at-a-time table, printed: Tether's phases against go-plugin's (when measured) or
    /// against the spawn floor.
    private static func sequentialTable(
        launches: Int, phases: [String: [Double]], floor: [Double], pluginMemory: [String: [Double]],
        goPhases: [String: [Double]], goMemory: [String: [Double]]
    ) -> ResultTable {
        let withGo = !goPhases.isEmpty
        let floorMedian = Summary(floor).median
        print(
            padded("one at a time", 38) + padded("p50 ms", 9) + padded("p99 ms", 9) + padded("/ floor", 9)
                + (withGo ? padded("go-plugin p50", 15) + padded("p99", 9) + "Tether/go-plugin" : ""))
        print(
            padded("spawn + exit (floor)", 38) + padded(format(floorMedian, 2), 9)
                + padded(format(Summary(floor).percentile(99), 2), 9) + "1.00×")
        func ratio(_ name: String) -> Double? {
            guard let go = goPhases[name] else { return nil }
            return Summary(phases[name]!).median / Summary(go).median
        }
        for name in phaseNames {
            let summary = Summary(phases[name]!)
            var line =
                padded(name, 38) + padded(format(summary.median, 2), 9) + padded(format(summary.percentile(99), 2), 9)
                + padded(format(summary.median / floorMedian, 2) + "×", 9)
            if let go = goPhases[name] {
                line +=
                    padded(format(Summary(go).median, 2), 15) + padded(format(Summary(go).percentile(99), 2), 9)
                    + format(ratio(name)!, 2) + "×"
            }
            print(line)
        }
        var tether = phaseNames.map { name in
            Series(
                name, [.percentiles("time", "ms", of: phases[name]!, digits: 2)],
                ratio: withGo ? ratio(name) : Summary(phases[name]!).median / floorMedian)
        }
        for name in memoryNames {
            let memory = Summary(pluginMemory[name]!).median
            let goRatio = goMemory[name].map { memory / Summary($0).median }
            print(
                padded(name + ", MiB", 38) + padded(format(memory, 1), 27)
                    + (goRatio == nil
                        ? "" : padded(format(Summary(goMemory[name]!).median, 1), 24) + format(goRatio!, 2) + "×"))
            tether.append(
                Series(name, [.percentiles("memory", "MiB", of: pluginMemory[name]!, digits: 1)], ratio: goRatio))
        }
        var baselines = [Series("spawn + exit (floor)", [.percentiles("time", "ms", of: floor, digits: 2)])]
        if withGo {
            baselines += phaseNames.map { name in
                Series("go-plugin: \(name)", [.percentiles("time", "ms", of: goPhases[name]!, digits: 2)])
            }
            baselines += memoryNames.map { name in
                Series("go-plugin: \(name)", [.percentiles("memory", "MiB", of: goMemory[name]!, digits: 1)])
            }
        }
        return ResultTable(
            id: "launch", title: "bench launch: one plugin at a time, \(launches) per run",
            subtitle: "p50/p99 of every launch; the floor spawns the plugin binary without a host (it exits at once)",
            labelHeader: "plugins", seriesHeader: "phase",
            ratioHeader: withGo ? "Tether/go-plugin" : "p50 / spawn floor",
            chart: ChartSpec(metric: "time", higherIsBetter: false),
            rows: [ResultRow(label: "one at a time", tether: tether, baselines: baselines)])
    }

    private static let concurrentFigures: [(name: String, unit: String, digits: Int)] = [
        ("all started", "ms", 1), ("all called", "ms", 1), ("all stopped", "ms", 1),
        ("host heap per plugin", "KiB", 0), ("plugin RSS", "MiB", 1), ("host fds per plugin", "", 2),
        ("fds after", "", 0), ("children after", "", 0),
    ]

    /// The many-at-once table, printed.
    private static func concurrentTable(count: Int, measured: [String: [Double]], goMeasured: [String: [Double]])
        -> ResultTable
    {
        print(
            padded("\(count) at once, median [min–max]", 30) + padded("Tether", 30) + padded("go-plugin", 30)
                + "Tether/go-plugin")
        for (name, unit, digits) in concurrentFigures {
            let tether = Summary(measured[name]!)
            var line = padded(name + (unit.isEmpty ? "" : " \(unit)"), 30) + padded(tether.formatted(digits), 30)
            if let go = goMeasured[name] {
                line += padded(Summary(go).formatted(digits), 30) + format(tether.median / Summary(go).median, 2) + "×"
            }
            print(line)
        }
        let headline = "all called"
        let tether = Series(
            "PluginHost",
            concurrentFigures.map { .median($0.name, $0.unit, of: measured[$0.name]!, digits: $0.digits) },
            ratio: goMeasured[headline].map { Summary(measured[headline]!).median / Summary($0).median })
        let baselines =
            goMeasured.isEmpty
            ? []
            : [
                Series(
                    "go-plugin",
                    concurrentFigures.compactMap { figure in
                        goMeasured[figure.name].map { .median(figure.name, figure.unit, of: $0, digits: figure.digits) }
                    })
            ]
        return ResultTable(
            id: "launch-concurrent", title: "bench launch: \(count) plugins at once on one host",
            subtitle:
                "median [min–max] of the runs; ms from the first start; host heap: bytes allocated per running plugin (malloc in use; Go: HeapInuse after a GC)",
            labelHeader: "plugins", seriesHeader: "host",
            ratioHeader: goMeasured.isEmpty ? nil : "Tether/go-plugin (all called)",
            rows: [ResultRow(label: "\(count) at once", tether: [tether], baselines: baselines)])
    }

    private static let verifiedNames = ["plain", "SHA-256 digest", "Ed25519 signature", "SHA-256, cached"]

    /// Milliseconds from start to the first call's answer, one plugin at a time, plain and with
    /// each verifier (interleaved, so that the VM's noise falls on all three alike).
    private static func verifiedLaunches(_ plugin: BenchPlugin, count: Int, reactor: Reactor) async throws
        -> [String: [Double]]
    {
        let binary = [UInt8](try Data(contentsOf: URL(fileURLWithPath: plugin.executable)))
        let key = Curve25519.Signing.PrivateKey()
        let signature = FileManager.default.temporaryDirectory.appendingPathComponent(
            "bench-plugin-\(getpid()).sig"
        ).path
        try PluginSignature.sign(binary, with: key).fileText.write(toFile: signature, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: signature) }
        let digest = try SHA256DigestVerifier(hex: [SHA256DigestVerifier.hexDigest(of: binary)])
        let verifiers: [(any PluginBinaryVerifier)?] = [
            nil, digest, Ed25519SignatureVerifier(trustedKeys: [key.publicKey], signaturePath: { _ in signature }), nil,
        ]
        let cache = VerifiedBinaryCache(verifier: digest)
        // The cache's first start reads, checks and seals the binary: once, before the timed ones.
        var warming = plugin.configuration(startTimeout: .seconds(30))
        warming.verifiedBinaries = cache
        try await PluginClient.start(warming, on: reactor).stop()
        let clock = ContinuousClock()
        let payload = Data(repeating: 7, count: 64)
        var samples: [String: [Double]] = [:]
        for _ in 0..<count {
            for (name, verifier) in zip(verifiedNames, verifiers) {
                var configuration = plugin.configuration(startTimeout: .seconds(30))
                configuration.verifier = verifier
                if name == "SHA-256, cached" { configuration.verifiedBinaries = cache }
                let start = clock.now
                let client = try await PluginClient.start(configuration, on: reactor)
                guard try await client.dispense(BenchEchoClient.self, name: "echo").echo(payload) == payload else {
                    throw BenchError("echo mismatch")
                }
                samples[name, default: []].append((clock.now - start).seconds * 1e3)
                await client.stop()
            }
        }
        return samples
    }

    /// The verified-launch table, printed: launch → first call with each verifier against plain.
    private static func verifiedTable(launches: Int, measured: [String: [Double]]) -> ResultTable {
        let plain = Summary(measured["plain"]!).median
        print(padded("launch → first call", 38) + padded("p50 ms", 9) + padded("p99 ms", 9) + "/ plain")
        for name in verifiedNames {
            let summary = Summary(measured[name]!)
            print(
                padded(name, 38) + padded(format(summary.median, 2), 9) + padded(format(summary.percentile(99), 2), 9)
                    + format(summary.median / plain, 2) + "×")
        }
        return ResultTable(
            id: "launch-verified", title: "bench launch: verified binaries, \(launches) launches per run",
            subtitle:
                "launch → first call; the binary is read, checked and run from a sealed in-memory copy (docs/guide.md, Security)",
            labelHeader: "plugins", seriesHeader: "verifier", ratioHeader: "p50 / plain",
            chart: ChartSpec(metric: "time", higherIsBetter: false),
            rows: [
                ResultRow(
                    label: "one at a time",
                    tether: verifiedNames.dropFirst().map { name in
                        Series(
                            name, [.percentiles("time", "ms", of: measured[name]!, digits: 2)],
                            ratio: Summary(measured[name]!).median / plain)
                    },
                    baselines: [Series("plain", [.percentiles("time", "ms", of: measured["plain"]!, digits: 2)])])
            ])
    }

    /// Milliseconds to spawn the plugin binary without a host (it finds no cookie and exits 78)
    /// and reap it: what any plugin built this way costs before its first line of code.
    private static func spawnFloor(_ plugin: BenchPlugin, count: Int, reactor: Reactor) async throws -> [Double] {
        let clock = ContinuousClock()
        let null = try FileDescriptor.open(FilePath("/dev/null"), .writeOnly, options: .closeOnExec)
        defer { try? null.close() }
        var samples: [Double] = []
        for _ in 0..<count {
            let start = clock.now
            let child = try ChildProcess.spawn(
                executable: plugin.executable, arguments: plugin.arguments, environment: [],
                files: [.init(null, as: .standardError)], on: reactor)
            guard try await child.waitForExit() == .exited(code: PluginServer.cookieMismatchExitStatus) else {
                throw BenchError(
                    "\(plugin.executable) without a host did not exit with status \(PluginServer.cookieMismatchExitStatus)"
                )
            }
            try await child.close()
            samples.append((clock.now - start).seconds * 1e3)
        }
        return samples
    }

    /// Milliseconds of each phase of `count` plugin lives, one after another, and each plugin's
    /// RSS and anonymous memory in MiB after its first call.
    private static func sequential(_ plugin: BenchPlugin, count: Int, reactor: Reactor) async throws
        -> ([String: [Double]], [String: [Double]])
    {
        let clock = ContinuousClock()
        let payload = Data(repeating: 7, count: 64)
        var phases: [String: [Double]] = [:]
        var memory: [String: [Double]] = [:]
        for _ in 0..<count {
            let start = clock.now
            let client = try await PluginClient.start(plugin.configuration(startTimeout: .seconds(30)), on: reactor)
            let started = clock.now
            guard try await client.dispense(BenchEchoClient.self, name: "echo").echo(payload) == payload else {
                throw BenchError("echo mismatch")
            }
            let called = clock.now
            // Read between the timed phases: neither counts it.
            let pid = client.process.pid
            memory[LaunchFigures.rss, default: []].append(MemoryUsage.statusMiB(of: pid, "VmRSS:"))
            memory[LaunchFigures.anonymous, default: []].append(MemoryUsage.statusMiB(of: pid, "RssAnon:"))
            let stopping = clock.now
            await client.stop()
            guard client.exitStatus == .exited(code: 0) else {
                throw BenchError("plugin ended \(String(describing: client.exitStatus))")
            }
            let stopped = clock.now
            let times = [started - start, called - started, called - start, stopped - stopping]
            for (name, time) in zip(LaunchFigures.phases, times + [times[2] + times[3]]) {
                phases[name, default: []].append(time.seconds * 1e3)
            }
        }
        return (phases, memory)
    }

    /// `count` plugins started at once by one `PluginHost`, each called once, all stopped: the
    /// figures by name.
    private static func concurrentRun(_ plugin: BenchPlugin, count: Int, reactor: Reactor) async throws
        -> [String: Double]
    {
        let fdsBefore = ProcessResources.openFileDescriptorCount()
        let heapBefore = MemoryUsage.heapBytes()
        let clock = ContinuousClock()
        let host = PluginHost(reactor: reactor)
        let start = clock.now
        let clients = try await startBenchPlugins(
            count, plugin: plugin, startTimeout: .seconds(30), host: host, reactor: reactor)
        let started = clock.now
        try await echoOnceEach(clients, reactor: reactor)
        let called = clock.now
        // Counted between the timed phases; "all stopped" leaves this time out.
        let fdsPerPlugin = Double(ProcessResources.openFileDescriptorCount() - fdsBefore) / Double(count)
        let heapPerPlugin = Double(MemoryUsage.heapBytes() - heapBefore) / Double(count) / 1024
        let pluginMemory = Summary(clients.map { MemoryUsage.statusMiB(of: $0.process.pid, "VmRSS:") }).median
        let stopping = clock.now
        await host.shutdown()
        let stopped = clock.now
        let fdsAfter = ProcessResources.openFileDescriptorCount() - fdsBefore
        let children = ProcessResources.childProcessIDs().count
        return [
            "all started": (started - start).seconds * 1e3, "all called": (called - start).seconds * 1e3,
            "all stopped": ((called - start) + (stopped - stopping)).seconds * 1e3,
            "host heap per plugin": heapPerPlugin,
            LaunchFigures.rss: pluginMemory, "host fds per plugin": fdsPerPlugin,
            "fds after": Double(fdsAfter), "children after": Double(children),
        ]
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
