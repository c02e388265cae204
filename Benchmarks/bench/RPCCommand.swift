import ArgumentParser
import BenchEcho
import Foundation
import TetherMux
import TetherRPC
import TetherReactor
import TetherTesting

/// `bench rpc`: unary calls host process → plugin process, sequential and with concurrent
/// callers, beside the 64-byte mux round trip of the same run and, with `--peer go`, go-plugin's
/// transport (Go net/rpc over one hashicorp/yamux stream, two Go processes).
struct RPCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rpc", abstract: "Unary RPC calls/s and latency vs the mux round trip (and Go net/rpc).")

    @Option(help: "Calls per run.") var calls = 20_000
    @Option var runs = 3
    @Option var transports: [Transport] = [.unix]
    @Option(help: "Argument sizes in bytes (the result is the argument echoed).") var sizes: [Int] = [64, 65_536]
    @Option(help: "Concurrent callers.") var parallel: [Int] = [1, 16]
    @Option(help: "`go`: also Go net/rpc over yamux, two Go processes over a socketpair, same run.") var peer: String?
    @OptionGroup var output: ResultOptions

    func run() async throws {
        let reactor = try Reactor.start(configuration: benchReactorConfiguration)
        let rows = try await withTaskExecutorPreference(reactor) {
            print("## bench rpc: unary echo calls, two processes, \(calls) calls per run, \(runs) runs\n")
            var header = padded("transport", 11) + padded("bytes", 7) + padded("callers", 9)
            header += padded("Tether calls/s", 26) + padded("p50 µs", 8) + padded("p99 µs", 8)
            header += padded("mux rtt p50", 13) + padded("CPU µs/call", 12)
            if peer == "go" {
                header += padded("Go net/rpc calls/s", 20) + padded("Go p50", 8) + padded("Go CPU", 12)
                header += padded("Tether/Go", 11) + "CPU Tether/Go"
            }
            print(header)
            var rows: [ResultRow] = []
            for transport in transports {
                let (rtt, _) = try await RoundTripCommand.muxRun(
                    transport: transport, roundTrips: calls, reactor: reactor)
                let rttMedian = Summary(rtt).median
                for size in sizes {
                    for callers in parallel {
                        var rates: [Double] = []
                        var latencies: [Double] = []
                        var goRates: [Double] = []
                        var goP50: [Double] = []
                        var cpu: [Double] = []
                        var goCPU: [Double] = []
                        for _ in 0..<runs {
                            let (runLatencies, rate, cpuPerCall) = try await Self.rpcRun(
                                transport: transport, size: size, callers: callers, calls: calls, reactor: reactor)
                            rates.append(rate)
                            latencies += runLatencies
                            cpu.append(cpuPerCall)
                            if peer == "go" {
                                let (rate, p50, cpuPerCall) = try await Self.goRun(
                                    size: size, callers: callers, calls: calls, reactor: reactor)
                                goRates.append(rate)
                                goP50.append(p50)
                                goCPU.append(cpuPerCall)
                            }
                        }
                        let summary = Summary(latencies)
                        var tether = Series(
                            "Tether",
                            [
                                .median("rate", "calls/s", of: rates, digits: 0),
                                .percentiles("call latency", "µs", of: latencies, digits: 1),
                                .percentiles("mux round trip", "µs", of: rtt, digits: 1),
                            ],
                            cpuMicrosecondsPerOperation: Summary(cpu).median)
                        var baselines: [Series] = []
                        var row = padded(transport.rawValue, 11) + padded("\(size)", 7) + padded("\(callers)", 9)
                        row += padded(Summary(rates).formatted(0), 26) + padded(format(summary.median, 1), 8)
                        row += padded(format(summary.percentile(99), 1), 8) + padded(format(rttMedian, 1), 13)
                        row += padded(format(Summary(cpu).median, 1), 12)
                        if peer == "go" {
                            let goRate = Summary(goRates).median
                            row += padded(format(goRate, 0), 20) + padded(format(Summary(goP50).median, 1), 8)
                            row += padded(format(Summary(goCPU).median, 1), 12)
                            row += padded(format(Summary(rates).median / goRate, 2) + "×", 11)
                            row += format(Summary(cpu).median / Summary(goCPU).median, 2) + "×"
                            tether.ratio = Summary(rates).median / goRate
                            baselines.append(
                                Series(
                                    "Go net/rpc",
                                    [
                                        .median("rate", "calls/s", of: goRates, digits: 0),
                                        .median("call latency", "µs", of: goP50, digits: 1),
                                    ], cpuMicrosecondsPerOperation: Summary(goCPU).median))
                        }
                        print(row)
                        rows.append(
                            ResultRow(
                                label:
                                    "\(transport.rawValue), \(Self.byteCount(size)), \(callers) caller\(callers == 1 ? "" : "s")",
                                tether: [tether], baselines: baselines))
                    }
                }
            }
            print("")
            return rows
        }
        await reactor.shutdown()
        let table = ResultTable(
            id: "rpc", title: "bench rpc: unary echo calls, two processes, \(calls) calls per run, \(runs) runs",
            subtitle: "call latency and the mux round trip (64 bytes on one stream, same run): p50/p99 of every call;"
                + " Go net/rpc: median of the runs' p50; CPU per call: both processes, user + system, warm-up"
                + " and process start included",
            labelHeader: "transport, bytes, callers", seriesHeader: "path",
            ratioHeader: peer == "go" ? "Tether/Go" : nil, chart: ChartSpec(metric: "rate", higherIsBetter: true),
            rows: rows)
        try output.write(
            scenario: "rpc",
            parameters: [
                "calls": .int(calls), "runs": .int(runs), "transports": .strings(transports.map(\.rawValue)),
                "sizes": .ints(sizes), "parallel": .ints(parallel), "peer": .string(peer ?? "none"),
            ], tables: [table])
    }

    /// An argument size as a row names it: `64 B`, `64 KiB`.
    static func byteCount(_ bytes: Int) -> String {
        bytes >= 1024 && bytes % 1024 == 0 ? "\(bytes / 1024) KiB" : "\(bytes) B"
    }

    /// `calls` echo calls of `size` bytes from `callers` concurrent tasks to a plugin process.
    /// Also the CPU time per call (µs) of both processes together: this one's, and the plugin's
    /// once it has exited and been reaped, over every call made, warm-up included (the plugin's
    /// start is counted too: a few ms over tens of thousands of calls).
    static func rpcRun(transport: Transport, size: Int, callers: Int, calls: Int, reactor: Reactor) async throws
        -> ([Double], Double, Double)
    {
        let cpuBefore = ProcessCPUTime.seconds(includingReapedChildren: true)
        // Go's client warms up with min(1000, calls / 10) calls in all; so do the callers here.
        let warmUp = min(1000, calls / 10) / callers
        let link = try await PeerLink.launch(["rpc-serve"], over: transport, reactor: reactor)
        let session = try await MuxSession(socket: link.socket, role: .client, configuration: benchMuxConfiguration)
        let client = BenchEchoClient(channel: RPCChannel(session: session))
        let payload = Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let (latencies, rate) = try await echoLoad(
            client, payload: payload, callers: callers, calls: calls, warmUp: warmUp, reactor: reactor)
        await session.close()
        _ = try await link.finish()
        let cpu = ProcessCPUTime.seconds(includingReapedChildren: true) - cpuBefore
        return (latencies, rate, cpu / Double(calls / callers * callers + warmUp * callers) * 1e6)
    }

    /// `calls` echo calls of `payload` from `callers` concurrent tasks, each after `warmUp`
    /// unmeasured calls: every call's latency in µs, and calls/s over the slowest caller's time.
    static func echoLoad(
        _ client: BenchEchoClient, payload: Data, callers: Int, calls: Int, warmUp: Int, reactor: Reactor
    ) async throws -> ([Double], Double) {
        let perCaller = calls / callers
        let clock = ContinuousClock()
        let (latencies, elapsed) = try await withThrowingTaskGroup(of: ([Double], Duration).self) { group in
            for _ in 0..<callers {
                group.addTask(executorPreference: reactor) {
                    for _ in 0..<warmUp {
                        guard try await client.echo(payload) == payload else { throw BenchError("echo mismatch") }
                    }
                    var latencies: [Double] = []
                    latencies.reserveCapacity(perCaller)
                    let start = clock.now
                    for _ in 0..<perCaller {
                        let callStart = clock.now
                        guard try await client.echo(payload) == payload else { throw BenchError("echo mismatch") }
                        latencies.append((clock.now - callStart).seconds * 1e6)
                    }
                    return (latencies, clock.now - start)
                }
            }
            var all: [Double] = []
            var longest = Duration.zero
            for try await (latencies, elapsed) in group {
                all += latencies
                longest = max(longest, elapsed)
            }
            return (all, longest)
        }
        return (latencies, Double(perCaller * callers) / elapsed.seconds)
    }

    /// Go net/rpc over one yamux stream, two Go processes: calls/s and p50 µs.
    static func goRun(size: Int, callers: Int, calls: Int, reactor: Reactor) async throws -> (Double, Double, Double) {
        let cpuBefore = ProcessCPUTime.seconds(includingReapedChildren: true)
        let output = try await GoPair.run(
            server: ["-scenario", "netrpc-server", "-keepalive=false"],
            client: [
                "-scenario", "netrpc-client", "-keepalive=false", "-count", "\(calls)", "-parallel", "\(callers)",
                "-size", "\(size)",
            ],
            reactor: reactor)
        let fields = GoPair.fields(output.client, line: "netrpc")
        guard let rate = fields["calls_per_second"], let p50 = fields["p50_us"] else {
            throw BenchError("go netrpc-client said: \(output.client)")
        }
        // Both Go processes have been reaped; their warm-up is min(1000, calls / 10) calls.
        let cpu = ProcessCPUTime.seconds(includingReapedChildren: true) - cpuBefore
        return (rate, p50, cpu / Double(calls + min(1000, calls / 10)) * 1e6)
    }
}
