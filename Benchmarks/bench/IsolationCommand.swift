import ArgumentParser
import BenchEcho
import Foundation
import Glibc
import Synchronization
import SystemPackage
import TetherMux
import TetherRPC
import TetherReactor
import TetherTesting

/// `bench isolation`: one well-behaved plugin's RPC calls alone, and again while a second plugin
/// on the same host reactor floods it — pings or SYNs it never reads the answers to, new streams
/// of data nobody accepts, bulk data the host reads — or, as a reference, only spins its CPUs.
/// The flood must stay local: the quiet plugin keeps at least half its calls/s, and the host's
/// memory stays flat.
struct IsolationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "isolation",
        abstract: "A quiet plugin's RPC calls/s alone and beside a flooding plugin on the same reactor.")

    @Option(help: "Calls per measurement.") var calls = 20_000
    @Option var runs = 3
    @Option(help: "Concurrent callers of the quiet plugin.") var callers = 1
    @Option(help: "Floods: ping, syn, data, bulk, cpu.") var floods: [FloodKind] = FloodKind.allCases
    @OptionGroup var output: ResultOptions

    func run() async throws {
        let reactor = try Reactor.start(configuration: benchReactorConfiguration)
        let title =
            "bench isolation: a quiet plugin's 64-byte RPC calls (\(callers) caller(s)) beside a flooding plugin on the same reactor, \(runs) runs"
        let row = try await withTaskExecutorPreference(reactor) {
            print("## \(title)\n")
            print(
                padded("neighbour", 12) + padded("calls/s", 26) + padded("vs alone", 10) + padded("p99 µs", 9)
                    + padded("host heap MiB (before → peak)", 31) + "host RSS MiB")
            let link = try await PeerLink.launch(["rpc-serve"], over: .unix, reactor: reactor)
            let session = try await MuxSession(socket: link.socket, role: .client, configuration: benchMuxConfiguration)
            let client = BenchEchoClient(channel: RPCChannel(session: session))
            var alone: [Double] = []
            var aloneP99: [Double] = []
            for _ in 0..<runs {
                let (rate, p99) = try await Self.measure(client, calls: calls, callers: callers, reactor: reactor)
                alone.append(rate)
                aloneP99.append(p99)
            }
            let aloneMedian = Summary(alone).median
            print(
                padded("none", 12) + padded(Summary(alone).formatted(0), 26) + padded("1.00×", 10)
                    + padded(format(Summary(aloneP99).median, 1), 9))
            var flooded: [Series] = []
            for kind in floods {
                var rates: [Double] = []
                var p99s: [Double] = []
                var heapStart = Int.max
                var heapPeak = 0
                var rssStart = Int.max
                var rssPeak = 0
                for _ in 0..<runs {
                    heapStart = min(heapStart, MemoryUsage.heapBytes())
                    rssStart = min(rssStart, MemoryUsage.residentBytes())
                    let flood = try await Flood.start(kind, reactor: reactor)
                    let sampler = MemorySampler.start(reactor: reactor)
                    let (rate, p99) = try await Self.measure(client, calls: calls, callers: callers, reactor: reactor)
                    let (heap, rss) = await sampler.stop()
                    heapPeak = max(heapPeak, heap)
                    rssPeak = max(rssPeak, rss)
                    try await flood.stop()
                    rates.append(rate)
                    p99s.append(p99)
                }
                let mebibyte = 1024.0 * 1024
                print(
                    padded(kind.rawValue, 12) + padded(Summary(rates).formatted(0), 26)
                        + padded(format(Summary(rates).median / aloneMedian, 2) + "×", 10)
                        + padded(format(Summary(p99s).median, 1), 9)
                        + padded(
                            "\(format(Double(heapStart) / mebibyte, 1)) → \(format(Double(heapPeak) / mebibyte, 1))", 31
                        )
                        + "\(format(Double(rssStart) / mebibyte, 1)) → \(format(Double(rssPeak) / mebibyte, 1))")
                flooded.append(
                    Series(
                        "beside \(kind.rawValue)",
                        [
                            .median("rate", "calls/s", of: rates, digits: 0),
                            .median("call latency p99", "µs", of: p99s, digits: 1),
                            .single("host heap before", "MiB", Double(heapStart) / mebibyte, digits: 1),
                            .single("host heap peak", "MiB", Double(heapPeak) / mebibyte, digits: 1),
                            .single("host RSS before", "MiB", Double(rssStart) / mebibyte, digits: 1),
                            .single("host RSS peak", "MiB", Double(rssPeak) / mebibyte, digits: 1),
                        ], ratio: Summary(rates).median / aloneMedian))
            }
            print("")
            await session.close()
            _ = try await link.finish()
            return ResultRow(
                label: "\(callers) caller\(callers == 1 ? "" : "s")", tether: flooded,
                baselines: [
                    Series(
                        "alone",
                        [
                            .median("rate", "calls/s", of: alone, digits: 0),
                            .median("call latency p99", "µs", of: aloneP99, digits: 1),
                        ])
                ])
        }
        await reactor.shutdown()
        let table = ResultTable(
            id: "isolation", title: title,
            subtitle: "calls/s median [min–max] of the runs; p99 the median of the runs' p99; host memory sampled"
                + " every 10 ms, the lowest before and the highest during the runs",
            labelHeader: "callers", seriesHeader: "quiet plugin", ratioHeader: "vs alone",
            chart: ChartSpec(metric: "rate", higherIsBetter: true), rows: [row])
        try output.write(
            scenario: "isolation",
            parameters: [
                "calls": .int(calls), "runs": .int(runs), "callers": .int(callers),
                "floods": .strings(floods.map(\.rawValue)),
            ], tables: [table])
    }

    /// `calls` 64-byte echo calls from `callers` tasks: calls/s and p99 latency in µs.
    static func measure(_ client: BenchEchoClient, calls: Int, callers: Int, reactor: Reactor) async throws
        -> (Double, Double)
    {
        let payload = Data((0..<64).map { UInt8($0) })
        let (latencies, callsPerSecond) = try await RPCCommand.echoLoad(
            client, payload: payload, callers: callers, calls: calls, warmUp: 0, reactor: reactor)
        return (callsPerSecond, Summary(latencies).percentile(99))
    }
}

/// What the noisy neighbour does.
enum FloodKind: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// Pings as fast as it can write them; never reads the replies.
    case ping
    /// SYNs for new streams the host never accepts; never reads the RSTs refusing them.
    case syn
    /// New streams, each filled with the 256 KiB a new stream may carry before any window
    /// update, that the host never accepts; never reads anything.
    case data
    /// A heavy but well-behaved neighbour: eight streams of bulk data the host reads and drops.
    /// It keeps its own process and the host's reactor busy, so on two CPUs it takes CPU time
    /// from the quiet plugin's process as much as reactor time from its session: compare with
    /// `cpu`.
    case bulk
    /// No traffic at all: two threads of the neighbour's process spin, the CPU that `bulk` takes
    /// (its process and the host's reactor) without touching the reactor. The reference for
    /// `bulk`.
    case cpu
}

/// The flooding plugin: a peer process on its own socket, with the host's session for it on the
/// same reactor as the quiet plugin's.
struct Flood {
    let link: PeerLink
    let session: MuxSession
    let drain: Task<Void, Never>

    static func start(_ kind: FloodKind, reactor: Reactor) async throws -> Flood {
        let link = try await PeerLink.launch(
            ["--flood", kind.rawValue], over: .unix, reactor: reactor, command: "flood")
        let session = try await MuxSession(socket: link.socket, role: .client, configuration: benchMuxConfiguration)
        // The host application reads what the bulk neighbour sends (and accepts nothing else).
        let drain = Task(executorPreference: reactor) {
            guard kind == .bulk else { return }
            await withDiscardingTaskGroup { group in
                while let stream = try? await session.acceptStream() {
                    group.addTask(executorPreference: reactor) { while (try? await stream.read()) != nil {} }
                }
            }
        }
        // Let the flood reach full speed before measuring.
        try await reactor.sleep(for: .milliseconds(200))
        return Flood(link: link, session: session, drain: drain)
    }

    func stop() async throws {
        try link.child.send(signal: SIGKILL)
        _ = try await link.child.waitForExit()
        await session.close()
        drain.cancel()
        _ = await drain.value
        try? await link.output.close()
        try? await link.child.close()
    }
}

/// Samples the host's heap and RSS every 10 ms until stopped; reports the peaks.
final class MemorySampler: Sendable {
    private let task: Task<(Int, Int), Never>

    private init(task: Task<(Int, Int), Never>) { self.task = task }

    static func start(reactor: Reactor) -> MemorySampler {
        MemorySampler(
            task: Task(executorPreference: reactor) {
                var heap = 0
                var rss = 0
                repeat {
                    heap = max(heap, MemoryUsage.heapBytes())
                    rss = max(rss, MemoryUsage.residentBytes())
                } while (try? await reactor.sleep(for: .milliseconds(10))) != nil
                return (heap, rss)
            })
    }

    func stop() async -> (Int, Int) {
        task.cancel()
        return await task.value
    }
}

/// `bench flood`: the flooding peer process (started by `bench isolation`).
struct FloodPeerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flood", abstract: "Internal: the flooding peer of `bench isolation`.", shouldDisplay: false)

    @Option var flood: FloodKind
    @Option var fd: Int32?
    @Option var connect: String?

    func run() async throws {
        let reactor = try Reactor.start(configuration: benchReactorConfiguration)
        try await withTaskExecutorPreference(reactor) {
            let socket = try await PeerCommand.openSocket(fd: fd, connect: connect, on: reactor)
            switch flood {
            case .data:
                // A new stream per 256 KiB: SYN on the first of four 64 KiB Data frames.
                let payload = [UInt8](repeating: 0x33, count: 65_536)
                var streamID: UInt32 = 2
                while true {
                    var bytes: [UInt8] = []
                    bytes.reserveCapacity(4 * (65_536 + FrameHeader.byteCount))
                    for part in 0..<4 {
                        FrameHeader.data(streamID: streamID, flags: part == 0 ? .syn : [], payloadBytes: 65_536)
                            .encode(into: &bytes)
                        bytes += payload
                    }
                    try await socket.send(BufferSlice(copying: bytes))
                    streamID &+= 2
                }
            case .ping, .syn:
                // Raw frames, 64 KiB per send, until the host stops reading (the send then waits)
                // or the process is killed. Nothing is ever read.
                var next: UInt32 = 0
                while true {
                    var bytes: [UInt8] = []
                    bytes.reserveCapacity(65_536)
                    for _ in 0..<(65_536 / FrameHeader.byteCount) {
                        let header: FrameHeader =
                            flood == .ping
                            ? .ping(opaque: next, reply: false)
                            : .windowUpdate(streamID: 2 * next + 2, flags: .syn, deltaBytes: 0)
                        header.encode(into: &bytes)
                        next &+= 1
                    }
                    try await socket.send(BufferSlice(copying: bytes))
                }
            case .cpu:
                let sink = SpinSink()
                for _ in 0..<2 {
                    Task.detached {
                        var counter: UInt64 = 0
                        while true {
                            counter = counter &* 6_364_136_223_846_793_005 &+ 1
                            sink.value.store(counter, ordering: .relaxed)
                        }
                    }
                }
                try await reactor.sleep(for: .seconds(3600))
            case .bulk:
                let session = try await MuxSession(socket: socket, role: .server, configuration: benchMuxConfiguration)
                let block = BufferSlice(copying: [UInt8](repeating: 0x5a, count: 256 * 1024))
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<8 {
                        group.addTask(executorPreference: reactor) {
                            let stream = try await session.openStream()
                            while true { try await stream.write(block) }
                        }
                    }
                    try await group.waitForAll()
                }
            }
        }
        await reactor.shutdown()
    }
}

/// Where the spinning threads of `bench flood --flood cpu` store their work, so it is not
/// optimized away.
private final class SpinSink: Sendable {
    let value = Atomic<UInt64>(0)
}
