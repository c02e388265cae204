import ArgumentParser
import TetherMux
import TetherReactor
import TetherTesting

/// `bench rtt`: 64-byte request/response on one multiplexed stream vs the raw socket (both ends on
/// reactors), two processes, same run.
struct RoundTripCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rtt", abstract: "64-byte round trip on one stream vs the raw socket.")

    @Option var roundTrips = 20_000
    @Option var runs = 3
    @Option var transports: [Transport] = [.unix, .tcp]
    @Option(help: "`go`: also Tether → Go yamux and Go → Go over a socketpair, same run.") var peer: String?
    @OptionGroup var output: ResultOptions

    func run() async throws {
        let reactor = try Reactor.start(configuration: benchReactorConfiguration)
        let tables = try await withTaskExecutorPreference(reactor) {
            let title = "bench rtt: 64-byte request/response, \(roundTrips) per run, \(runs) runs, two processes"
            print("## \(title)\n")
            print(
                padded("transport", 12) + padded("path", 14) + padded("p50 µs", 9) + padded("p99 µs", 9)
                    + padded("ops/s", 10) + "p50 vs raw")
            var rows: [ResultRow] = []
            for transport in transports {
                var raw: [Double] = []
                var rawRates: [Double] = []
                var mux: [Double] = []
                var muxRates: [Double] = []
                for _ in 0..<runs {
                    let (rawLatencies, rawRate) = try await RawCommand.roundTripRun(
                        mode: .reactor, transport: transport, roundTrips: roundTrips, reactor: reactor)
                    raw += rawLatencies
                    rawRates.append(rawRate)
                    let (muxLatencies, muxRate) = try await Self.muxRun(
                        transport: transport, roundTrips: roundTrips, reactor: reactor)
                    mux += muxLatencies
                    muxRates.append(muxRate)
                }
                let rawSummary = Summary(raw)
                let muxSummary = Summary(mux)
                for (name, summary, rates) in [
                    ("raw socket", rawSummary, rawRates), ("mux stream", muxSummary, muxRates),
                ] {
                    print(
                        padded(transport.rawValue, 12) + padded(name, 14) + padded(format(summary.median, 1), 9)
                            + padded(format(summary.percentile(99), 1), 9)
                            + padded(format(Summary(rates).median, 0), 10)
                            + format(summary.median / rawSummary.median, 2) + "×")
                }
                func series(_ name: String, _ latencies: [Double], _ rates: [Double], ratio: Double? = nil) -> Series {
                    Series(
                        name,
                        [
                            .percentiles("round trip", "µs", of: latencies, digits: 1),
                            .median("rate", "ops/s", of: rates, digits: 0),
                        ], ratio: ratio)
                }
                rows.append(
                    ResultRow(
                        label: transport.rawValue,
                        tether: [series("mux stream", mux, muxRates, ratio: muxSummary.median / rawSummary.median)],
                        baselines: [series("raw socket", raw, rawRates)]))
            }
            print("")
            var tables = [
                ResultTable(
                    id: "rtt", title: title, labelHeader: "transport", seriesHeader: "path", ratioHeader: "p50 vs raw",
                    chart: ChartSpec(metric: "round trip", higherIsBetter: false), rows: rows)
            ]
            if peer == "go" { tables.append(try await compareWithGo(reactor)) }
            return tables
        }
        await reactor.shutdown()
        try output.write(
            scenario: "rtt",
            parameters: [
                "roundTrips": .int(roundTrips), "runs": .int(runs), "transports": .strings(transports.map(\.rawValue)),
                "peer": .string(peer ?? "none"),
            ], tables: tables)
    }

    private func compareWithGo(_ reactor: Reactor) async throws -> ResultTable {
        let title =
            "bench rtt --peer go: socketpair, 64 bytes, \(roundTrips) round trips per run, p50 µs median of \(runs) runs"
        print("## \(title)\n")
        print(padded("Tether↔Tether", 16) + padded("Tether→Go", 14) + padded("Go↔Go", 10) + "Go↔Go / Tether↔Tether")
        var tether: [Double] = []
        var tetherToGo: [Double] = []
        var go: [Double] = []
        for _ in 0..<runs {
            tether.append(
                Summary(try await Self.muxRun(transport: .socketpair, roundTrips: roundTrips, reactor: reactor).0)
                    .median)
            tetherToGo.append(Summary(try await Self.goEchoRun(roundTrips: roundTrips, reactor: reactor)).median)
            let output = try await GoPair.run(
                server: ["-scenario", "bench-echo", "-keepalive=false"],
                client: ["-scenario", "rtt-client", "-keepalive=false", "-count", "\(roundTrips)", "-size", "64"],
                reactor: reactor)
            guard let p50 = GoPair.fields(output.client, line: "rtt")["p50_us"] else {
                throw BenchError("go rtt-client said: \(output.client)")
            }
            go.append(p50)
        }
        let (t, tg, g) = (Summary(tether).median, Summary(tetherToGo).median, Summary(go).median)
        print(padded(format(t, 1), 16) + padded(format(tg, 1), 14) + padded(format(g, 1), 10) + format(g / t, 2) + "×")
        print("")
        func p50(_ values: [Double]) -> [Figure] { [.median("round trip p50", "µs", of: values, digits: 1)] }
        return ResultTable(
            id: "rtt-go", title: title, labelHeader: "transport", seriesHeader: "path",
            ratioHeader: "Go↔Go / Tether↔Tether", chart: ChartSpec(metric: "round trip p50", higherIsBetter: false),
            rows: [
                ResultRow(
                    label: "socketpair",
                    tether: [Series("Tether↔Tether", p50(tether), ratio: g / t), Series("Tether→Go", p50(tetherToGo))],
                    baselines: [Series("Go↔Go", p50(go))])
            ])
    }

    /// Round trips from a Tether client to a Go echo server.
    static func goEchoRun(roundTrips: Int, reactor: Reactor) async throws -> [Double] {
        let peer = try await GoYamuxPeer.start(
            ["-role", "server", "-scenario", "bench-echo", "-keepalive=false"], on: reactor)
        let session = try await MuxSession(socket: peer.socket, role: .client, configuration: benchMuxConfiguration)
        let stream = try await session.openStream()
        let message = BufferSlice(count: 64) { span in
            for index in span.indices { span[index] = UInt8(index) }
        }
        var latencies: [Double] = []
        let clock = ContinuousClock()
        let warmUp = min(1000, roundTrips / 10)
        for index in 0..<(warmUp + roundTrips) {
            let start = clock.now
            try await stream.write(message)
            var received = 0
            while received < 64 {
                guard let slice = try await stream.read() else { throw BenchError("go echo ended") }
                received += slice.count
            }
            if index >= warmUp { latencies.append((clock.now - start).seconds * 1e6) }
        }
        try await stream.closeWrite()
        await session.close()
        _ = try await peer.finish()
        return latencies
    }

    static func muxRun(transport: Transport, roundTrips: Int, reactor: Reactor) async throws -> ([Double], Double) {
        let link = try await PeerLink.launch(["mux-echo"], over: transport, reactor: reactor)
        let session = try await MuxSession(socket: link.socket, role: .client, configuration: benchMuxConfiguration)
        let stream = try await session.openStream()
        let message = BufferSlice(count: 64) { span in
            for index in span.indices { span[index] = UInt8(index) }
        }
        let warmUp = min(1000, roundTrips / 10)
        var latencies: [Double] = []
        latencies.reserveCapacity(roundTrips)
        let clock = ContinuousClock()
        var runStart = clock.now
        for index in 0..<(warmUp + roundTrips) {
            if index == warmUp { runStart = clock.now }
            let start = clock.now
            try await stream.write(message)
            var received = 0
            while received < 64 {
                guard let slice = try await stream.read() else { throw BenchError("echo stream ended") }
                received += slice.count
            }
            if index >= warmUp { latencies.append((clock.now - start).seconds * 1e6) }
        }
        let rate = Double(roundTrips) / (clock.now - runStart).seconds
        try await stream.closeWrite()
        await session.close()
        _ = try await link.finish()
        return (latencies, rate)
    }
}
