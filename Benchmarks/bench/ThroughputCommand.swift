import ArgumentParser
import TetherMux
import TetherReactor
import TetherTesting

/// `bench throughput`: bulk data over 1, 8 and 64 multiplexed streams between two processes,
/// beside the raw socket (both ends on reactors) measured in the same run.
struct ThroughputCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "throughput", abstract: "Multiplexed bulk throughput vs the raw socket, two processes.")

    @Option(help: "MiB per run (split across the streams).") var mebibytes = 1024
    @Option(help: "Runs per configuration.") var runs = 3
    @Option(help: "Stream counts.") var streams: [Int] = [1, 8, 64]
    @Option(help: "Transports.") var transports: [Transport] = [.unix, .tcp]

    func run() async throws {
        let reactor = try Reactor.start(configuration: benchReactorConfiguration)
        try await withTaskExecutorPreference(reactor) {
            print("## bench throughput: 64 KiB writes, \(mebibytes) MiB per run, host process → plugin process")
            print("median [min–max] of \(runs) runs; the raw row is one socket, both ends on reactors\n")
            print(padded("transport", 12) + padded("path", 16) + padded("GB/s", 22) + padded("vs raw", 9) + "bytes copied")
            for transport in transports {
                var raw: [Double] = []
                var mux: [Int: [Double]] = [:]
                var copied: [Int: UInt64] = [:]
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
                }
                let rawSummary = Summary(raw)
                print(padded(transport.rawValue, 12) + padded("raw socket", 16) + padded(rawSummary.formatted(2), 22) + "1.00×")
                for count in streams {
                    let summary = Summary(mux[count]!)
                    print(
                        padded(transport.rawValue, 12) + padded("mux \(count) stream\(count == 1 ? "" : "s")", 16)
                            + padded(summary.formatted(2), 22) + padded(format(summary.median / rawSummary.median, 2) + "×", 9)
                            + "\(copied[count]!)")
                }
            }
            print("")
        }
        await reactor.shutdown()
    }

    /// One run: `streams` streams each write their share, the peer sinks them and reports counts.
    static func muxRun(streams: Int, transport: Transport, bytes: Int, reactor: Reactor) async throws -> (Double, UInt64) {
        let link = try await PeerLink.launch(["mux-sink"], over: transport, reactor: reactor)
        let session = try await MuxSession(socket: link.socket, role: .client, configuration: benchMuxConfiguration)
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
        let elapsed = clock.now - start
        let copied = await session.statistics.bytesCopied
        await session.close()
        _ = try await link.finish()
        return (Double(perStream * streams) / elapsed.seconds / 1e9, copied)
    }
}
