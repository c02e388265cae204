import ArgumentParser
import BenchEcho
import Foundation
import Tether
import TetherMux
import TetherReactor
import TetherTesting

/// `bench soak`: long runs that must leave nothing behind. Plugin launch → call → kill cycles, then
/// stream open → echo → close cycles on one session, with this process's descriptors, children,
/// threads, resident memory and heap sampled as they go (and the echo peer's descriptors and
/// memory). Each figure must stay flat within the bounds below; the command fails when one does
/// not. `make soak` runs it; CI does not (it takes minutes).
struct SoakCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak", abstract: "Launch/call/kill and stream open/echo/close cycles, checked for leaks.")

    @Option(help: "Plugin launch → call → kill cycles.") var launches = 1_000
    @Option(help: "Stream open → echo → close cycles on one session.") var streams = 1_000_000
    @Option(help: "Streams in flight at once.") var parallel = 16
    @Option(help: "Cycles before the baseline sample: allocator pools, the thread pool and caches fill first.")
    var warmupLaunches = 50
    @Option var warmupStreams = 50_000
    @Option(help: "Samples taken over each soak after its warm-up.") var samples = 10
    @Option(help: "Largest heap growth allowed per launch cycle after the warm-up, in bytes.")
    var launchHeapBytes = 512.0
    @Option(help: "Largest resident-memory growth allowed per launch cycle after the warm-up, in bytes.")
    var launchResidentBytes = 4096.0
    @Option(help: "Largest heap growth allowed per stream cycle after the warm-up, in bytes.")
    var streamHeapBytes = 1.0
    @Option(help: "Largest resident-memory growth allowed per stream cycle after the warm-up, in bytes.")
    var streamResidentBytes = 8.0

    func validate() throws {
        guard launches > 0, streams > 0, parallel > 0, samples > 0, warmupLaunches >= 0, warmupStreams >= 0 else {
            throw ValidationError("counts must be positive")
        }
        guard streams % parallel == 0, warmupStreams % parallel == 0, (streams / parallel) % samples == 0 else {
            throw ValidationError("--streams and --warmup-streams must divide into --parallel workers and --samples")
        }
    }

    func run() async throws {
        let reactor = try Reactor.start(configuration: benchReactorConfiguration)
        let failures = try await withTaskExecutorPreference(reactor) {
            try await launchSoak(reactor) + streamSoak(reactor)
        }
        await reactor.shutdown()
        if !failures.isEmpty {
            print("soak FAILED:\n" + failures.map { "  - \($0)" }.joined(separator: "\n"))
            throw ExitCode.failure
        }
        print("soak passed: every figure flat within its bound")
    }

    // MARK: Plugin launch → call → kill

    private func launchSoak(_ reactor: Reactor) async throws -> [String] {
        let plugin = BenchPlugin.locate()
        print("## bench soak: \(launches) plugin launch → 64-byte echo call → kill cycles (\(plugin.description))\n")
        let payload = Data((0..<64).map { UInt8($0) })
        let clock = ContinuousClock()
        func cycle() async throws {
            let client = try await PluginClient.start(plugin.configuration(startTimeout: .seconds(30)), on: reactor)
            guard try await client.dispense(BenchEchoClient.self, name: "echo").echo(payload) == payload else {
                throw BenchError("echo mismatch")
            }
            await client.kill()
            guard client.exitStatus == .signaled(signal: SIGKILL, coreDumped: false) else {
                throw BenchError("killed plugin ended \(String(describing: client.exitStatus))")
            }
        }
        for _ in 0..<warmupLaunches { try await cycle() }
        var table = SoakTable(unit: "launches")
        let baseline = await SoakSample.take(cycle: 0, reactor: reactor)
        table.add(baseline)
        let start = clock.now
        let step = max(1, launches / samples)
        for index in 1...launches {
            try await cycle()
            if index % step == 0 || index == launches {
                table.add(await SoakSample.take(cycle: index, reactor: reactor))
            }
        }
        let seconds = (clock.now - start).seconds
        table.print(rate: Double(launches) / seconds, per: "launch")
        return table.check(heapPerCycle: launchHeapBytes, residentPerCycle: launchResidentBytes, cycles: launches)
    }

    // MARK: Stream open → echo → close

    private func streamSoak(_ reactor: Reactor) async throws -> [String] {
        print(
            "## bench soak: \(streams) stream open → 64-byte echo → close cycles, \(parallel) at once, one unix session\n"
        )
        let link = try await PeerLink.launch(["mux-echo"], over: .unix, reactor: reactor)
        let session = try await MuxSession(socket: link.socket, role: .client, configuration: benchMuxConfiguration)
        let peer = link.child.pid
        let parallel = parallel
        /// `count` cycles, `parallel` at a time; each sends 64 bytes that differ per cycle and checks
        /// the echo byte for byte.
        func cycles(_ count: Int, from first: Int) async throws {
            let perWorker = count / parallel
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<parallel {
                    group.addTask(executorPreference: reactor) {
                        for index in 0..<perWorker {
                            let seed = first + worker * perWorker + index
                            let bytes = (0..<64).map { UInt8(truncatingIfNeeded: seed &+ $0) }
                            let stream = try await session.openStream()
                            try await stream.writeAndClose([BufferSlice(copying: bytes)])
                            var echoed: [UInt8] = []
                            while let slice = try await stream.read() { echoed += slice.bytes }
                            guard echoed == bytes else { throw BenchError("stream \(seed): echo differs") }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        try await cycles(warmupStreams, from: 0)
        var table = SoakTable(unit: "streams", peer: peer)
        table.add(await SoakSample.take(cycle: 0, reactor: reactor, peer: peer))
        let clock = ContinuousClock()
        let start = clock.now
        let step = streams / samples
        for sample in 1...samples {
            try await cycles(step, from: warmupStreams + (sample - 1) * step)
            table.add(await SoakSample.take(cycle: sample * step, reactor: reactor, peer: peer))
        }
        let seconds = (clock.now - start).seconds
        await session.close()
        _ = try await link.finish()
        table.print(rate: Double(streams) / seconds, per: "stream")
        return table.check(heapPerCycle: streamHeapBytes, residentPerCycle: streamResidentBytes, cycles: streams)
    }
}

/// This process's (and optionally a peer's) resources at one point of a soak.
struct SoakSample {
    let cycle: Int
    let descriptors: Int
    let children: Int
    let threads: Int
    let residentBytes: Int
    let heapBytes: Int
    let peerDescriptors: Int?
    let peerResidentBytes: Int?
    /// The reactor's provided buffers lent out, operations in flight, and receives into memory
    /// of the handle's own because the provided-buffer ring was empty (a running total).
    let buffersLent: Int
    let operationsInFlight: Int
    let fallbackReceives: UInt64

    static func take(cycle: Int, reactor: Reactor, peer: Int32? = nil) async -> SoakSample {
        let counters = await reactor.counters()
        return SoakSample(
            cycle: cycle, descriptors: MemoryUsage.openDescriptors(),
            children: ProcessResources.childProcessIDs().count,
            threads: Int(MemoryUsage.status(of: nil, "Threads:")),
            residentBytes: MemoryUsage.residentBytes(), heapBytes: MemoryUsage.heapBytes(),
            peerDescriptors: peer.map(MemoryUsage.openDescriptors(of:)),
            peerResidentBytes: peer.map { Int(MemoryUsage.statusMiB(of: $0, "VmRSS:") * 1_048_576) },
            buffersLent: counters.buffersLent, operationsInFlight: counters.operationsInFlight,
            fallbackReceives: counters.fallbackReceives)
    }
}

/// The samples of one soak, printed as a table and checked against the bounds.
struct SoakTable {
    let unit: String
    var peer: Int32? = nil
    var rows: [SoakSample] = []

    mutating func add(_ sample: SoakSample) { rows.append(sample) }

    func print(rate: Double, per: String) {
        let mib = { (bytes: Int) in format(Double(bytes) / 1_048_576, 1) }
        var header =
            padded(unit, 10) + padded("fds", 6) + padded("children", 10) + padded("threads", 9)
            + padded("RSS MiB", 9) + padded("heap KiB", 10) + padded("lent", 6) + padded("in flight", 11)
            + padded("fallbacks", 11)
        if peer != nil { header += padded("peer fds", 10) + "peer RSS MiB" }
        Swift.print(header)
        for row in rows {
            var line =
                padded("\(row.cycle)", 10) + padded("\(row.descriptors)", 6) + padded("\(row.children)", 10)
                + padded("\(row.threads)", 9) + padded(mib(row.residentBytes), 9)
                + padded(format(Double(row.heapBytes) / 1024, 0), 10)
                + padded("\(row.buffersLent)", 6) + padded("\(row.operationsInFlight)", 11)
                + padded("\(row.fallbackReceives)", 11)
            if let descriptors = row.peerDescriptors, let resident = row.peerResidentBytes {
                line += padded("\(descriptors)", 10) + mib(resident)
            }
            Swift.print(line)
        }
        let first = rows.first!
        let last = rows.last!
        let cycles = Double(last.cycle - first.cycle)
        Swift.print(
            "\n\(format(rate, 0)) \(unit)/s; per \(per) after the warm-up: RSS "
                + format(Double(last.residentBytes - first.residentBytes) / cycles, 2) + " B, heap "
                + format(Double(last.heapBytes - first.heapBytes) / cycles, 2) + " B"
                + (last.peerResidentBytes.map {
                    ", peer RSS " + format(Double($0 - first.peerResidentBytes!) / cycles, 2) + " B"
                } ?? "") + "\n")
    }

    /// What broke a bound: at every sample (taken between cycles), descriptors, children, lent
    /// buffers and operations in flight equal to the baseline, threads no more, and no receive
    /// that found the provided-buffer ring empty; the heap grown by at most `heapPerCycle` bytes
    /// per cycle over the run, resident memory (this process's and the peer's) by at most
    /// `residentPerCycle`.
    func check(heapPerCycle: Double, residentPerCycle: Double, cycles: Int) -> [String] {
        guard let first = rows.first, let last = rows.last else { return ["\(unit): no samples"] }
        var failures: [String] = []
        for row in rows.dropFirst() {
            if row.descriptors != first.descriptors {
                failures.append("\(unit) \(row.cycle): \(row.descriptors) fds, \(first.descriptors) at the baseline")
            }
            if row.children != first.children {
                failures.append("\(unit) \(row.cycle): \(row.children) children, \(first.children) at the baseline")
            }
            if row.threads > first.threads {
                failures.append("\(unit) \(row.cycle): \(row.threads) threads, \(first.threads) at the baseline")
            }
            if row.buffersLent != first.buffersLent || row.operationsInFlight != first.operationsInFlight {
                failures.append(
                    "\(unit) \(row.cycle): \(row.buffersLent) buffers lent and \(row.operationsInFlight) operations in "
                        + "flight, \(first.buffersLent) and \(first.operationsInFlight) at the baseline")
            }
            if row.fallbackReceives != first.fallbackReceives {
                failures.append(
                    "\(unit) \(row.cycle): \(row.fallbackReceives - first.fallbackReceives) receives found the "
                        + "provided-buffer ring empty")
            }
            if let descriptors = row.peerDescriptors, descriptors != first.peerDescriptors {
                failures.append(
                    "\(unit) \(row.cycle): peer has \(descriptors) fds, \(first.peerDescriptors!) at the baseline")
            }
        }
        let figures: [(String, Int, Int, Double)] =
            [
                ("RSS", first.residentBytes, last.residentBytes, residentPerCycle * Double(cycles)),
                ("heap", first.heapBytes, last.heapBytes, heapPerCycle * Double(cycles)),
            ]
            + (first.peerResidentBytes.map {
                [("peer RSS", $0, last.peerResidentBytes!, residentPerCycle * Double(cycles))]
            } ?? [])
        for (name, before, after, limit) in figures where Double(after - before) > limit {
            failures.append(
                "\(unit): \(name) grew \(after - before) bytes over \(cycles) cycles, more than \(Int(limit))")
        }
        return failures
    }
}
