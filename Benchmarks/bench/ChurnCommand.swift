import ArgumentParser
import TetherMux
import TetherReactor
import TetherTesting

/// `bench churn`: open a stream, echo 1 byte, close — sequentially and 16 at a time — vs a new
/// connection per request to the same peer process, with the peak fd count of both processes.
struct ChurnCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "churn", abstract: "Stream churn vs a connection per request, two processes.")

    @Option(help: "Operations per run.") var operations = 20_000
    @Option var runs = 3
    @Option var transports: [Transport] = [.unix, .tcp]
    @Option(help: "`go`: also Tether → Go yamux and Go → Go over a socketpair, same run.") var peer: String?
    @OptionGroup var output: ResultOptions

    func run() async throws {
        let reactor = try Reactor.start(configuration: benchReactorConfiguration)
        let tables = try await withTaskExecutorPreference(reactor) {
            let title = "bench churn: open, 1-byte echo, close; \(operations) operations per run, \(runs) runs"
            print("## \(title)\n")
            print(
                padded("transport", 12) + padded("path", 18) + padded("parallel", 10) + padded("ops/s", 26)
                    + padded("vs connection", 15) + "peak fds host/peer")
            var rows: [ResultRow] = []
            for transport in transports {
                for parallel in [1, 16] {
                    var rates: [String: [Double]] = [:]
                    var fds: [String: (Int, Int)] = [:]
                    for _ in 0..<runs {
                        let (connectionRate, connectionFds) = try await Self.connectionRun(
                            transport: transport, parallel: parallel, operations: operations, reactor: reactor)
                        rates["connection", default: []].append(connectionRate)
                        fds["connection"] = connectionFds
                        let (streamRate, streamFds) = try await Self.streamRun(
                            transport: transport, parallel: parallel, operations: operations, reactor: reactor)
                        rates["stream", default: []].append(streamRate)
                        fds["stream"] = streamFds
                    }
                    let baseline = Summary(rates["connection"]!).median
                    for path in ["connection", "stream"] {
                        let summary = Summary(rates[path]!)
                        let name = path == "stream" ? "mux stream" : "new connection"
                        print(
                            padded(transport.rawValue, 12) + padded(name, 18) + padded("\(parallel)", 10)
                                + padded(summary.formatted(0), 26)
                                + padded(format(summary.median / baseline, 2) + "×", 15)
                                + "\(fds[path]!.0)/\(fds[path]!.1)")
                    }
                    func series(_ path: String, _ name: String, ratio: Double? = nil) -> Series {
                        Series(
                            name,
                            [
                                .median("rate", "ops/s", of: rates[path]!, digits: 0),
                                .single("peak fds host", "", Double(fds[path]!.0)),
                                .single("peak fds peer", "", Double(fds[path]!.1)),
                            ], ratio: ratio)
                    }
                    rows.append(
                        ResultRow(
                            label: "\(transport.rawValue), \(Self.concurrency(parallel))",
                            tether: [
                                series("stream", "mux stream", ratio: Summary(rates["stream"]!).median / baseline)
                            ],
                            baselines: [series("connection", "new connection")]))
                }
            }
            print("")
            var tables = [
                ResultTable(
                    id: "churn", title: title, labelHeader: "transport, parallel", seriesHeader: "path",
                    ratioHeader: "vs connection", chart: ChartSpec(metric: "rate", higherIsBetter: true), rows: rows)
            ]
            if peer == "go" { tables.append(try await compareWithGo(reactor)) }
            return tables
        }
        await reactor.shutdown()
        try output.write(
            scenario: "churn",
            parameters: [
                "operations": .int(operations), "runs": .int(runs), "transports": .strings(transports.map(\.rawValue)),
                "peer": .string(peer ?? "none"),
            ], tables: tables)
    }

    private func compareWithGo(_ reactor: Reactor) async throws -> ResultTable {
        let title =
            "bench churn --peer go: socketpair, \(operations) operations per run, ops/s median of \(runs) runs"
        print("## \(title)\n")
        var rows: [ResultRow] = []
        print(padded("parallel", 10) + padded("Tether↔Tether", 16) + padded("Go↔Go", 10) + "Tether↔Tether / Go↔Go")
        for parallel in [1, 16] {
            var tether: [Double] = []
            var go: [Double] = []
            for _ in 0..<runs {
                tether.append(
                    try await Self.streamRun(
                        transport: .socketpair, parallel: parallel, operations: operations, reactor: reactor
                    ).0)
                let output = try await GoPair.run(
                    server: ["-scenario", "bench-echo", "-keepalive=false"],
                    client: [
                        "-scenario", "churn-client", "-keepalive=false", "-ops", "\(operations)", "-parallel",
                        "\(parallel)",
                    ],
                    reactor: reactor)
                guard let rate = GoPair.fields(output.client, line: "churn")["ops_per_second"] else {
                    throw BenchError("go churn-client said: \(output.client)")
                }
                go.append(rate)
            }
            let ratio = Summary(tether).median / Summary(go).median
            print(
                padded("\(parallel)", 10) + padded(format(Summary(tether).median, 0), 16)
                    + padded(format(Summary(go).median, 0), 10) + format(ratio, 2) + "×")
            rows.append(
                ResultRow(
                    label: Self.concurrency(parallel),
                    tether: [Series("Tether↔Tether", [.median("rate", "ops/s", of: tether, digits: 0)], ratio: ratio)],
                    baselines: [Series("Go↔Go", [.median("rate", "ops/s", of: go, digits: 0)])]))
        }
        print("")
        return ResultTable(
            id: "churn-go", title: title, labelHeader: "parallel", seriesHeader: "path",
            ratioHeader: "Tether↔Tether / Go↔Go", chart: ChartSpec(metric: "rate", higherIsBetter: true), rows: rows)
    }

    /// How a row names its concurrency: `1 at a time`, `16 in parallel`.
    static func concurrency(_ parallel: Int) -> String {
        parallel == 1 ? "1 at a time" : "\(parallel) in parallel"
    }

    /// Runs `operations` operations, `parallel` at a time; samples this process's fds as it goes.
    static func measure(
        parallel: Int, operations: Int, reactor: Reactor, _ operation: @escaping @Sendable () async throws -> Void
    ) async throws -> (Double, Int) {
        let clock = ContinuousClock()
        let start = clock.now
        let perWorker = operations / parallel
        let peak = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<parallel {
                group.addTask(executorPreference: reactor) {
                    var peak = 0
                    for index in 0..<perWorker {
                        try await operation()
                        if index % 4096 == 0 { peak = max(peak, MemoryUsage.openDescriptors()) }
                    }
                    return peak
                }
            }
            return try await group.reduce(0) { max($0, $1) }
        }
        return (Double(perWorker * parallel) / (clock.now - start).seconds, peak)
    }

    static func streamRun(transport: Transport, parallel: Int, operations: Int, reactor: Reactor) async throws
        -> (Double, (Int, Int))
    {
        let link = try await PeerLink.launch(["mux-echo"], over: transport, reactor: reactor)
        let session = try await MuxSession(socket: link.socket, role: .client, configuration: benchMuxConfiguration)
        let byte = BufferSlice(copying: [7])
        let (rate, hostPeak) = try await measure(parallel: parallel, operations: operations, reactor: reactor) {
            let stream = try await session.openStream()
            try await stream.writeAndClose([byte])
            guard try await stream.read()?.count == 1, try await stream.read() == nil else {
                throw BenchError("stream echo failed")
            }
        }
        await session.close()
        let output = try await link.finish()
        return (rate, (hostPeak, peerPeak(output)))
    }

    static func connectionRun(transport: Transport, parallel: Int, operations: Int, reactor: Reactor) async throws
        -> (Double, (Int, Int))
    {
        let address: SocketAddress =
            transport == .unix
            ? .unix(path: "/tmp/tether-churn-\(UInt64.random(in: 0...UInt64.max)).sock")
            : .tcp(host: "127.0.0.1", port: 0)
        let link = try await PeerLink.launch(
            ["connection-echo", "--listen", PeerCommand.encode(address)], over: transport, reactor: reactor)
        guard let ready = try await link.socket.receive(),
            let target = PeerCommand.decode(String(decoding: ready.bytes, as: UTF8.self))
        else { throw BenchError("connection peer did not report its address") }
        let byte = BufferSlice(copying: [7])
        let (rate, hostPeak) = try await measure(parallel: parallel, operations: operations, reactor: reactor) {
            let connection = try await StreamSocket.connect(to: target, on: reactor)
            try await connection.send(byte)
            guard try await connection.receive()?.count == 1 else { throw BenchError("connection echo failed") }
            try await connection.close()
        }
        try link.socket.shutdownWriting()
        let output = try await link.finish()
        return (rate, (hostPeak, peerPeak(output)))
    }

    static func peerPeak(_ output: String) -> Int {
        for line in output.split(separator: "\n") where line.hasPrefix("peakfds ") {
            return Int(line.dropFirst(8)) ?? -1
        }
        return -1
    }
}
