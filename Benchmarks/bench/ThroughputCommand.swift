import ArgumentParser
import SystemPackage
import TetherMux
import TetherReactor
import TetherTesting

/// `bench throughput`: bulk data over 1, 8 and 64 multiplexed streams between two processes,
/// beside the raw socket (both ends on reactors) measured in the same run, and the same bytes as
/// one RPC call's `ByteStream` argument (the `ByteStream RPC` row, also compared with one bare
/// mux stream).
struct ThroughputCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "throughput", abstract: "Multiplexed bulk throughput vs the raw socket, two processes.")

    @Option(help: "MiB per run (split across the streams).") var mebibytes = 1024
    @Option(help: "Runs per configuration.") var runs = 3
    @Option(help: "Stream counts.") var streams: [Int] = [1, 8, 64]
    @Option(help: "Transports.") var transports: [Transport] = [.unix, .tcp]
    @Option(help: "`go`: also Tether ↔ Tether, Tether → Go yamux and Go yamux ↔ Go yamux (socketpair, same run).")
    var peer: String?
    @OptionGroup var output: ResultOptions

    func run() async throws {
        let reactor = try Reactor.start(configuration: benchReactorConfiguration)
        let tables = try await withTaskExecutorPreference(reactor) {
            let title = "bench throughput: 64 KiB writes, \(mebibytes) MiB per run, host process → plugin process"
            let subtitle = "median [min–max] of \(runs) runs; the raw row is one socket, both ends on reactors"
            print("## \(title)")
            print("\(subtitle)\n")
            print(
                padded("transport", 12) + padded("path", 16) + padded("GB/s", 22) + padded("vs raw", 9) + "bytes copied"
            )
            var rows: [ResultRow] = []
            for transport in transports {
                var raw: [Double] = []
                var mux: [Int: [Double]] = [:]
                var copied: [Int: UInt64] = [:]
                var byteStream: [Double] = []
                var byteStreamCopied: UInt64 = 0
                for _ in 0..<runs {
                    raw.append(
                        try await RawCommand.bulkRun(
                            mode: .reactor, transport: transport, bytes: mebibytes * 1_048_576, reactor: reactor
                        ).0)
                    for count in streams {
                        let (rate, bytesCopied) = try await Self.muxRun(
                            streams: count, transport: transport, bytes: mebibytes * 1_048_576, reactor: reactor)
                        mux[count, default: []].append(rate)
                        copied[count] = bytesCopied
                    }
                    let (rate, bytesCopied) = try await Self.byteStreamRun(
                        transport: transport, bytes: mebibytes * 1_048_576, reactor: reactor)
                    byteStream.append(rate)
                    byteStreamCopied = bytesCopied
                }
                let rawSummary = Summary(raw)
                print(
                    padded(transport.rawValue, 12) + padded("raw socket", 16) + padded(rawSummary.formatted(2), 22)
                        + "1.00×")
                for count in streams {
                    let summary = Summary(mux[count]!)
                    print(
                        padded(transport.rawValue, 12) + padded("mux \(count) stream\(count == 1 ? "" : "s")", 16)
                            + padded(summary.formatted(2), 22)
                            + padded(format(summary.median / rawSummary.median, 2) + "×", 9)
                            + "\(copied[count]!)")
                }
                let byteStreamSummary = Summary(byteStream)
                print(
                    padded(transport.rawValue, 12) + padded("ByteStream RPC", 16)
                        + padded(byteStreamSummary.formatted(2), 22)
                        + padded(format(byteStreamSummary.median / rawSummary.median, 2) + "×", 9)
                        + "\(byteStreamCopied)")
                if let single = mux[1] {
                    // The target: one RPC byte stream ≥ 0.8× one bare mux stream of the same run.
                    print(
                        padded("", 12) + "ByteStream RPC / mux 1 stream: "
                            + format(byteStreamSummary.median / Summary(single).median, 2) + "×")
                }
                rows.append(
                    ResultRow(
                        label: transport.rawValue,
                        tether: streams.map { count in
                            Series(
                                "mux \(count) stream\(count == 1 ? "" : "s")",
                                [
                                    .median("throughput", "GB/s", of: mux[count]!, digits: 2),
                                    .single("bytes copied", "B", Double(copied[count]!)),
                                ], ratio: Summary(mux[count]!).median / rawSummary.median)
                        }
                            + [
                                Series(
                                    "ByteStream RPC",
                                    [
                                        .median("throughput", "GB/s", of: byteStream, digits: 2),
                                        .single("bytes copied", "B", Double(byteStreamCopied)),
                                    ], ratio: byteStreamSummary.median / rawSummary.median)
                            ],
                        baselines: [Series("raw socket", [.median("throughput", "GB/s", of: raw, digits: 2)])]))
            }
            print("")
            var tables = [
                ResultTable(
                    id: "throughput", title: title, subtitle: subtitle, labelHeader: "transport", seriesHeader: "path",
                    ratioHeader: "vs raw", chart: ChartSpec(metric: "throughput", higherIsBetter: true), rows: rows)
            ]
            if peer == "go" { tables.append(try await compareWithGo(reactor)) }
            return tables
        }
        await reactor.shutdown()
        try output.write(
            scenario: "throughput",
            parameters: [
                "mebibytes": .int(mebibytes), "runs": .int(runs), "streams": .ints(streams),
                "transports": .strings(transports.map(\.rawValue)), "peer": .string(peer ?? "none"),
            ], tables: tables)
    }

    /// Same bytes and stream counts over a socketpair: Tether → Tether, Tether host → Go sink,
    /// and Go → Go, so Tether and hashicorp/yamux are compared in one run (the ratio compares the
    /// two implementations end to end, like `churn --peer go` and `rtt --peer go`).
    private func compareWithGo(_ reactor: Reactor) async throws -> ResultTable {
        guard GoYamuxPeer.isAvailable else { throw BenchError("--peer go needs `make go-peer`") }
        let title = "bench throughput --peer go: socketpair, \(mebibytes) MiB per run, median [min–max] of \(runs) runs"
        print("## \(title)\n")
        var rows: [ResultRow] = []
        print(
            padded("streams", 9) + padded("Tether↔Tether GB/s", 22) + padded("Tether → Go GB/s", 22)
                + padded("Go ↔ Go GB/s", 22) + "Tether↔Tether / Go↔Go")
        let bytes = mebibytes * 1_048_576
        for count in streams {
            var tether: [Double] = []
            var tetherToGo: [Double] = []
            var go: [Double] = []
            for _ in 0..<runs {
                tether.append(
                    try await Self.muxRun(streams: count, transport: .socketpair, bytes: bytes, reactor: reactor).0)
                tetherToGo.append(try await Self.tetherToGo(streams: count, bytes: bytes, reactor: reactor))
                go.append(try await Self.goToGo(streams: count, bytes: bytes, reactor: reactor))
            }
            let ratio = Summary(tether).median / Summary(go).median
            print(
                padded("\(count)", 9) + padded(Summary(tether).formatted(2), 22)
                    + padded(Summary(tetherToGo).formatted(2), 22)
                    + padded(Summary(go).formatted(2), 22) + format(ratio, 2) + "×")
            rows.append(
                ResultRow(
                    label: "\(count) stream\(count == 1 ? "" : "s")",
                    tether: [
                        Series("Tether↔Tether", [.median("throughput", "GB/s", of: tether, digits: 2)], ratio: ratio),
                        Series("Tether → Go", [.median("throughput", "GB/s", of: tetherToGo, digits: 2)]),
                    ],
                    baselines: [Series("Go ↔ Go", [.median("throughput", "GB/s", of: go, digits: 2)])]))
        }
        print("")
        return ResultTable(
            id: "throughput-go", title: title, labelHeader: "streams", seriesHeader: "path",
            ratioHeader: "Tether↔Tether / Go↔Go", chart: ChartSpec(metric: "throughput", higherIsBetter: true),
            rows: rows)
    }

    static func tetherToGo(streams: Int, bytes: Int, reactor: Reactor) async throws -> Double {
        let peer = try await GoYamuxPeer.start(["-role", "server", "-scenario", "sink"], on: reactor)
        let session = try await MuxSession(socket: peer.socket, role: .client, configuration: benchMuxConfiguration)
        let elapsed = try await send(streams: streams, bytes: bytes, session: session, reactor: reactor)
        await session.close()
        let (status, output) = try await peer.finish()
        guard status == .exited(code: 0) else { throw BenchError("go sink \(status): \(output)") }
        return Double(bytes / streams * streams) / elapsed.seconds / 1e9
    }

    static func goToGo(streams: Int, bytes: Int, reactor: Reactor) async throws -> Double {
        let (a, b) = try StreamSocket.makePair(on: reactor)
        // The Go peers report on stdout; the figures here come from their exit status and timing.
        let devNull = try FileDescriptor.open(FilePath("/dev/null"), .writeOnly, options: .closeOnExec)
        defer { try? devNull.close() }
        let sink = try ChildProcess.spawn(
            executable: GoYamuxPeer.executablePath,
            arguments: ["-role", "server", "-scenario", "sink", "-fd", "3", "-keepalive=false"],
            environment: ["PATH=/usr/bin:/bin"],
            files: [.init(a.fileDescriptor, as: FileDescriptor(rawValue: 3)), .init(devNull, as: .standardOutput)],
            on: reactor)
        let clock = ContinuousClock()
        let start = clock.now
        let source = try ChildProcess.spawn(
            executable: GoYamuxPeer.executablePath,
            arguments: [
                "-role", "client", "-scenario", "source", "-fd", "3", "-keepalive=false",
                "-streams", "\(streams)", "-bytes", "\(bytes / streams)",
            ],
            environment: ["PATH=/usr/bin:/bin"],
            files: [.init(b.fileDescriptor, as: FileDescriptor(rawValue: 3)), .init(devNull, as: .standardOutput)],
            on: reactor)
        try await a.close()
        try await b.close()
        let sourceStatus = try await source.waitForExit()
        let elapsed = clock.now - start
        let sinkStatus = try await sink.waitForExit()
        try await source.close()
        try await sink.close()
        guard sourceStatus == .exited(code: 0), sinkStatus == .exited(code: 0) else {
            throw BenchError("go → go: source \(sourceStatus), sink \(sinkStatus)")
        }
        return Double(bytes / streams * streams) / elapsed.seconds / 1e9
    }

    /// One run: `streams` streams each write their share, the peer sinks them and reports counts.
    static func muxRun(streams: Int, transport: Transport, bytes: Int, reactor: Reactor) async throws -> (
        Double, UInt64
    ) {
        let link = try await PeerLink.launch(["mux-sink"], over: transport, reactor: reactor)
        let session = try await MuxSession(socket: link.socket, role: .client, configuration: benchMuxConfiguration)
        let elapsed = try await send(streams: streams, bytes: bytes, session: session, reactor: reactor)
        let copied = await session.statistics.bytesCopied
        await session.close()
        _ = try await link.finish()
        return (Double(bytes / streams * streams) / elapsed.seconds / 1e9, copied)
    }

    /// Opens `streams` streams, writes `bytes / streams` on each in 64 KiB writes, and waits for
    /// the sink's 8-byte count on each. Returns the time it all took.
    static func send(streams: Int, bytes: Int, session: MuxSession, reactor: Reactor) async throws -> Duration {
        let chunk = BufferSlice(count: 64 * 1024) { span in
            for index in span.indices { span[index] = UInt8(truncatingIfNeeded: index) }
        }
        let perStream = bytes / streams
        let clock = ContinuousClock()
        let start = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<streams {
                group.addTask(executorPreference: reactor) {
                    let stream = try await session.openStream()
                    var sent = 0
                    while sent < perStream {
                        let slice = perStream - sent >= chunk.count ? chunk : chunk.slice(0..<(perStream - sent))
                        try await stream.write(slice)
                        sent += slice.count
                    }
                    try await stream.closeWrite()
                    var reply: [UInt8] = []
                    while let slice = try await stream.read() { reply += slice.bytes }
                    let count = reply.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                    guard reply.count == 8, count == UInt64(perStream) else {
                        throw BenchError("peer sank \(count) of \(perStream) bytes")
                    }
                }
            }
            try await group.waitForAll()
        }
        return clock.now - start
    }
}
