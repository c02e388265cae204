import ArgumentParser
import TetherMux
import TetherReactor
import TetherTesting

/// `bench streams`: many idle streams on one session — memory per stream on each side and fds
/// (which must not depend on the stream count).
struct StreamsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "streams", abstract: "Memory and fds of 10,000 and 100,000 idle streams on one session.")

    @Option var counts: [Int] = [10_000, 100_000]
    @Option var transports: [Transport] = [.unix]
    @Option(help: "`go`: also Go yamux → Go yamux idle streams over a socketpair.") var peer: String?
    @OptionGroup var output: ResultOptions

    func run() async throws {
        let reactor = try Reactor.start(configuration: benchReactorConfiguration)
        let title = "bench streams: idle streams on one session, bytes per stream (malloc'd heap, RSS)"
        let rows = try await withTaskExecutorPreference(reactor) {
            print("## \(title)\n")
            print(
                padded("transport", 12) + padded("streams", 10) + padded("host heap/RSS B", 18)
                    + padded("plugin heap/RSS B", 20) + "fds host/plugin (before → after)")
            var measured: [(transport: Transport, count: Int, sides: [Series])] = []
            for transport in transports {
                for count in counts {
                    let row = try await Self.measure(count: count, transport: transport, reactor: reactor)
                    print(
                        padded(transport.rawValue, 12) + padded("\(count)", 10) + padded(row.host, 18)
                            + padded(row.plugin, 20) + row.fds)
                    measured.append((transport, count, row.series))
                }
            }
            print("")
            // The Go pair's figures at each stream count, the baselines of every transport's row.
            var goSides: [Int: [Series]] = [:]
            if peer == "go" {
                print("## bench streams --peer go: Go yamux on both ends, socketpair\n")
                print(
                    padded("streams", 10) + padded("client heap/RSS B", 20) + padded("server heap/RSS B", 20)
                        + "fds client/server")
                for count in counts {
                    let output = try await GoPair.run(
                        server: [
                            "-scenario", "idle-accept", "-keepalive=false", "-streams", "\(count)", "-backlog",
                            "\(count)",
                        ],
                        client: ["-scenario", "idle-streams", "-keepalive=false", "-streams", "\(count)"],
                        until: "idle", reactor: reactor)
                    let client = GoPair.fields(output.client, line: "idle")
                    let server = GoPair.fields(output.server, line: "idle")
                    func pair(_ fields: [String: Double]) -> String {
                        "\(format(fields["heap_bytes_per_stream"] ?? -1, 0))/\(format(fields["rss_bytes_per_stream"] ?? -1, 0))"
                    }
                    print(
                        padded("\(count)", 10) + padded(pair(client), 20) + padded(pair(server), 20)
                            + "\(format(client["fds"] ?? -1, 0))/\(format(server["fds"] ?? -1, 0))")
                    // A figure a Go peer did not report is left out.
                    goSides[count] = [("Go client (socketpair)", client), ("Go server (socketpair)", server)].map {
                        name, fields in
                        Series(
                            name,
                            [
                                ("heap_bytes_per_stream", "heap per stream", "B"),
                                ("rss_bytes_per_stream", "RSS per stream", "B"), ("fds", "fds", ""),
                            ].compactMap { key, metric, unit in fields[key].map { .single(metric, unit, $0) } })
                    }
                }
                print("")
            }
            return measured.map { transport, count, sides in
                ResultRow(
                    label: "\(transport.rawValue), \(count) streams", tether: sides, baselines: goSides[count] ?? [])
            }
        }
        await reactor.shutdown()
        let table = ResultTable(
            id: "streams", title: title, labelHeader: "transport, streams", seriesHeader: "side",
            chart: ChartSpec(metric: "heap per stream", higherIsBetter: false), rows: rows)
        try output.write(
            scenario: "streams",
            parameters: [
                "counts": .ints(counts), "transports": .strings(transports.map(\.rawValue)),
                "peer": .string(peer ?? "none"),
            ], tables: [table])
    }

    /// The text columns of one row, and its figures: the host's and the plugin's side.
    static func measure(count: Int, transport: Transport, reactor: Reactor) async throws
        -> (host: String, plugin: String, fds: String, series: [Series])
    {
        let link = try await PeerLink.launch(["mux-idle", "--streams", "\(count)"], over: transport, reactor: reactor)
        let session = try await MuxSession(socket: link.socket, role: .client, configuration: benchMuxConfiguration)
        let fdsBefore = MemoryUsage.openDescriptors()
        let heapBefore = MemoryUsage.heapBytes()
        let rssBefore = MemoryUsage.residentBytes()
        var held: [MuxStream] = []
        held.reserveCapacity(count)
        for _ in 0..<count { held.append(try await session.openStream()) }
        // Every stream is open on both sides once the peer reports (it counts accepted streams).
        var report = ""
        while !report.contains("\n"), let slice = try await link.output.read() {
            report += String(decoding: slice.bytes, as: UTF8.self)
        }
        let heap = Double(MemoryUsage.heapBytes() - heapBefore) / Double(count)
        let rss = Double(MemoryUsage.residentBytes() - rssBefore) / Double(count)
        let fdsAfter = MemoryUsage.openDescriptors()
        let fields = Dictionary(
            uniqueKeysWithValues: report.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { field in
                let parts = field.split(separator: "=", maxSplits: 1)
                return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
            })
        held.removeAll()
        await session.close()
        _ = try await link.finish()
        // A figure the plugin did not report is left out.
        func reported(_ key: String, _ metric: String, _ unit: String) -> Figure? {
            fields[key].flatMap { Double($0) }.map { .single(metric, unit, $0) }
        }
        let series = [
            Series(
                "Tether host",
                [
                    .single("heap per stream", "B", heap), .single("RSS per stream", "B", rss),
                    .single("fds", "", Double(fdsAfter)), .single("fds before", "", Double(fdsBefore)),
                ]),
            Series(
                "Tether plugin",
                [
                    reported("heap", "heap per stream", "B"), reported("rss", "RSS per stream", "B"),
                    reported("fds", "fds", ""),
                ].compactMap { $0 }),
        ]
        return (
            "\(format(heap, 0))/\(format(rss, 0))",
            "\(fields["heap"] ?? "?")/\(fields["rss"] ?? "?")",
            "\(fdsBefore) → \(fdsAfter) / \(fields["fds"] ?? "?")",
            series
        )
    }
}
