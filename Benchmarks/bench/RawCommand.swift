import ArgumentParser
import TetherReactor
import TetherTesting

/// `bench raw`: the physical baseline. Bulk throughput and 64-byte round trips between two
/// processes over each transport, with both ends on Tether reactors and with plain blocking
/// read/write (one thread per end), measured side by side in one run.
struct RawCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raw", abstract: "Raw socket baseline: reactor vs blocking read/write, two processes.")

    @Option(help: "MiB moved per bulk run.") var mebibytes = 2048
    @Option(help: "Runs per configuration (the table shows median [min–max]).") var runs = 5
    @Option(help: "Round trips per latency run.") var roundTrips = 20_000
    @Option(help: "Transports to measure.") var transports: [Transport] = Transport.allCases
    @OptionGroup var output: ResultOptions

    func run() async throws {
        let reactor = try Reactor.start(configuration: benchReactorConfiguration)
        let tables = try await withTaskExecutorPreference(reactor) {
            [try await bulk(reactor), try await roundTrip(reactor)]
        }
        await reactor.shutdown()
        try output.write(
            scenario: "raw",
            parameters: [
                "mebibytes": .int(mebibytes), "runs": .int(runs), "roundTrips": .int(roundTrips),
                "transports": .strings(transports.map(\.rawValue)),
            ], tables: tables)
    }

    private func bulk(_ reactor: Reactor) async throws -> ResultTable {
        let title = "bench raw: bulk, one direction, 64 KiB writes, \(mebibytes) MiB per run, two processes"
        let subtitle =
            "median [min–max] of \(runs) runs; enters/MiB and completions/enter are per side (receiver/sender)"
        print("## \(title)")
        print("\(subtitle)\n")
        print(
            padded("transport", 12) + padded("path", 10) + padded("GB/s", 22) + padded("vs blocking", 13)
                + padded("enters/MiB", 16) + "completions/enter")
        var rows: [ResultRow] = []
        for transport in transports {
            var rates: [PeerCommand.Mode: [Double]] = [:]
            var counters: [PeerCommand.Mode: (receiver: CounterDelta, sender: CounterDelta)] = [:]
            // Interleave the modes so drift in the machine affects both alike.
            for _ in 0..<runs {
                for mode in PeerCommand.Mode.allCases {
                    let (rate, receiver, sender) = try await Self.bulkRun(
                        mode: mode, transport: transport, bytes: mebibytes * 1_048_576, reactor: reactor)
                    rates[mode, default: []].append(rate)
                    counters[mode] = (receiver, sender)
                }
            }
            let blocking = Summary(rates[.blocking]!).median
            for mode in PeerCommand.Mode.allCases {
                let summary = Summary(rates[mode]!)
                let sides = counters[mode]!
                let perSide =
                    mode == .reactor
                    ? "\(format(sides.receiver.entersPerMebibyte, 1))/\(format(sides.sender.entersPerMebibyte, 1))"
                    : "-"
                let perEnter =
                    mode == .reactor
                    ? "\(format(sides.receiver.completionsPerEnter, 2))/\(format(sides.sender.completionsPerEnter, 2))"
                    : "-"
                print(
                    padded(transport.rawValue, 12) + padded(mode.rawValue, 10) + padded(summary.formatted(2), 22)
                        + padded(format(summary.median / blocking, 2) + "×", 13) + padded(perSide, 16) + perEnter)
            }
            // The counters are the last run's, as the text shows them.
            let sides = counters[.reactor]!
            rows.append(
                ResultRow(
                    label: transport.rawValue,
                    tether: [
                        Series(
                            "reactor",
                            [
                                .median("throughput", "GB/s", of: rates[.reactor]!, digits: 2),
                                .single("enters/MiB receiver", "", sides.receiver.entersPerMebibyte, digits: 1),
                                .single("enters/MiB sender", "", sides.sender.entersPerMebibyte, digits: 1),
                                .single(
                                    "completions/enter receiver", "", sides.receiver.completionsPerEnter, digits: 2),
                                .single("completions/enter sender", "", sides.sender.completionsPerEnter, digits: 2),
                            ], ratio: Summary(rates[.reactor]!).median / blocking)
                    ],
                    baselines: [Series("blocking", [.median("throughput", "GB/s", of: rates[.blocking]!, digits: 2)])]))
        }
        print("")
        return ResultTable(
            id: "raw-bulk", title: title, subtitle: subtitle, labelHeader: "transport", seriesHeader: "path",
            ratioHeader: "vs blocking", chart: ChartSpec(metric: "throughput", higherIsBetter: true), rows: rows)
    }

    /// One bulk run; returns GB/s measured at the receiver (this process) and both sides' counters.
    static func bulkRun(mode: PeerCommand.Mode, transport: Transport, bytes: Int, reactor: Reactor) async throws
        -> (Double, CounterDelta, CounterDelta)
    {
        let link = try await PeerLink.launch(
            ["bulk-send", "--mode", mode.rawValue, "--bytes", "\(bytes)"], over: transport, reactor: reactor)
        let before = await reactor.counters()
        let clock = ContinuousClock()
        let start = clock.now
        var received = 0
        switch mode {
        case .reactor:
            try await link.socket.send(BufferSlice(copying: [1]))
            while let slice = try await link.socket.receive() { received += slice.count }
        case .blocking:
            let scratch = ScratchBuffer(capacity: 64 * 1024)
            try BlockingIO.writeAll(link.socket.fileDescriptor, BufferSlice(copying: [1]))
            while true {
                let count = try BlockingIO.read(link.socket.fileDescriptor, into: scratch)
                if count == 0 { break }
                received += count
            }
        }
        let elapsed = clock.now - start
        let receiver = CounterDelta(before: before, after: await reactor.counters())
        let output = try await link.finish()
        guard received == bytes else { throw BenchError("received \(received) of \(bytes) bytes") }
        guard let sender = output.split(separator: "\n").compactMap({ CounterDelta(line: String($0)) }).last else {
            throw BenchError("peer reported no counters: \(output)")
        }
        return (Double(bytes) / elapsed.seconds / 1e9, receiver, sender)
    }

    private func roundTrip(_ reactor: Reactor) async throws -> ResultTable {
        let title = "bench raw: 64-byte request/response round trip, two processes, \(roundTrips) round trips per run"
        let subtitle = "p50/p99 over all runs; ops/s median [min–max] of \(runs) runs"
        print("## \(title)")
        print("\(subtitle)\n")
        print(
            padded("transport", 12) + padded("path", 10) + padded("p50 µs", 9) + padded("p99 µs", 9)
                + padded("ops/s", 26) + "p50 vs blocking")
        var rows: [ResultRow] = []
        for transport in transports {
            var samples: [PeerCommand.Mode: [Double]] = [:]
            var rates: [PeerCommand.Mode: [Double]] = [:]
            for _ in 0..<runs {
                for mode in PeerCommand.Mode.allCases {
                    let (latencies, rate) = try await Self.roundTripRun(
                        mode: mode, transport: transport, roundTrips: roundTrips, reactor: reactor)
                    samples[mode, default: []] += latencies
                    rates[mode, default: []].append(rate)
                }
            }
            let blockingP50 = Summary(samples[.blocking]!).median
            for mode in PeerCommand.Mode.allCases {
                let latency = Summary(samples[mode]!)
                print(
                    padded(transport.rawValue, 12) + padded(mode.rawValue, 10) + padded(format(latency.median, 1), 9)
                        + padded(format(latency.percentile(99), 1), 9) + padded(Summary(rates[mode]!).formatted(0), 26)
                        + format(latency.median / blockingP50, 2) + "×")
            }
            func series(_ mode: PeerCommand.Mode, ratio: Double? = nil) -> Series {
                Series(
                    mode.rawValue,
                    [
                        .percentiles("round trip", "µs", of: samples[mode]!, digits: 1),
                        .median("rate", "ops/s", of: rates[mode]!, digits: 0),
                    ], ratio: ratio)
            }
            rows.append(
                ResultRow(
                    label: transport.rawValue,
                    tether: [series(.reactor, ratio: Summary(samples[.reactor]!).median / blockingP50)],
                    baselines: [series(.blocking)]))
        }
        print("")
        return ResultTable(
            id: "raw-rtt", title: title, subtitle: subtitle, labelHeader: "transport", seriesHeader: "path",
            ratioHeader: "p50 vs blocking", chart: ChartSpec(metric: "round trip", higherIsBetter: false), rows: rows)
    }

    /// One latency run: per-round-trip microseconds and the run's round trips per second.
    static func roundTripRun(mode: PeerCommand.Mode, transport: Transport, roundTrips: Int, reactor: Reactor)
        async throws -> ([Double], Double)
    {
        let messageBytes = 64
        let link = try await PeerLink.launch(
            ["echo", "--mode", mode.rawValue, "--message-bytes", "\(messageBytes)"], over: transport, reactor: reactor)
        let message = BufferSlice(count: messageBytes) { span in
            for index in span.indices { span[index] = UInt8(index) }
        }
        let warmUp = min(1000, roundTrips / 10)
        var latencies: [Double] = []
        latencies.reserveCapacity(roundTrips)
        let clock = ContinuousClock()
        let scratch = ScratchBuffer(capacity: 64 * 1024)
        var runStart = clock.now
        for index in 0..<(warmUp + roundTrips) {
            if index == warmUp { runStart = clock.now }
            let start = clock.now
            var received = 0
            switch mode {
            case .reactor:
                try await link.socket.send(message)
                while received < messageBytes {
                    guard let slice = try await link.socket.receive() else { throw BenchError("echo peer closed") }
                    received += slice.count
                }
            case .blocking:
                try BlockingIO.writeAll(link.socket.fileDescriptor, message)
                while received < messageBytes {
                    let count = try BlockingIO.read(link.socket.fileDescriptor, into: scratch)
                    if count == 0 { throw BenchError("echo peer closed") }
                    received += count
                }
            }
            if index >= warmUp { latencies.append((clock.now - start).seconds * 1e6) }
        }
        let rate = Double(roundTrips) / (clock.now - runStart).seconds
        try link.socket.shutdownWriting()
        _ = try await link.finish()
        return (latencies, rate)
    }
}

extension Transport: ExpressibleByArgument {}
