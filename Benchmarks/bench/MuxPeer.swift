import BenchEcho
import Glibc
import Synchronization
import TetherMux
import TetherRPC
import TetherReactor

/// The peer process's side of the multiplexer benchmarks.
enum MuxPeer {
    /// Serves one yamux session (server role): every stream is either sunk (read to the end, then
    /// the byte count is sent back as 8 bytes) or echoed. Returns when the host closes the session.
    static func serve(socket: StreamSocket, echo: Bool, reactor: Reactor) async throws {
        let session = try await MuxSession(socket: socket, role: .server, configuration: benchMuxConfiguration)
        await withDiscardingTaskGroup { group in
            while let stream = try? await session.acceptStream() {
                group.addTask(executorPreference: reactor) {
                    if echo {
                        while let slice = try? await stream.read() { try? await stream.write(slice) }
                        try? await stream.closeWrite()
                    } else {
                        var count: UInt64 = 0
                        while let slice = try? await stream.read() { count += UInt64(slice.count) }
                        let reply = BufferSlice(count: 8) { span in
                            for index in 0..<8 {
                                span[index] = UInt8(truncatingIfNeeded: count >> (56 - 8 * UInt64(index)))
                            }
                        }
                        try? await stream.writeAndClose([reply])
                    }
                }
            }
        }
        await session.close()
    }

    /// Accepts `count` streams and keeps them open without reading, then reports the memory each
    /// one costs on this side (`idle heap=… rss=… fds=…`, bytes per stream) and waits for the end.
    static func holdIdleStreams(socket: StreamSocket, count: Int, reactor: Reactor) async throws {
        let session = try await MuxSession(socket: socket, role: .server, configuration: benchMuxConfiguration)
        let heapBefore = MemoryUsage.heapBytes()
        let rssBefore = MemoryUsage.residentBytes()
        var held: [MuxStream] = []
        held.reserveCapacity(count)
        while held.count < count, let stream = try? await session.acceptStream() { held.append(stream) }
        let heap = Double(MemoryUsage.heapBytes() - heapBefore) / Double(max(count, 1))
        let rss = Double(MemoryUsage.residentBytes() - rssBefore) / Double(max(count, 1))
        print("idle heap=\(format(heap, 0)) rss=\(format(rss, 0)) fds=\(MemoryUsage.openDescriptors())")
        fflush(nil)
        await session.waitUntilFinished()
        held.removeAll()
    }

    /// Serves `BenchEcho` calls on one session until the host closes it.
    static func serveRPC(socket: StreamSocket) async throws {
        let session = try await MuxSession(socket: socket, role: .server, configuration: benchMuxConfiguration)
        let server = RPCServer()
        server.register(BenchEchoService())
        server.register(BenchBytesService())
        await server.serve(session)
        await session.close()
    }

    /// The connection-per-request baseline: echo each connection's bytes until it closes.
    static func serveConnections(first: StreamSocket, listenOn address: String?, reactor: Reactor) async throws {
        guard let address, let parsed = PeerCommand.decode(address) else { return }
        let listener = try Listener.listen(on: parsed, reactor: reactor)
        // Tell the host the listener is ready (and the port, for TCP).
        try await first.send(BufferSlice(copying: Array(PeerCommand.encode(listener.address).utf8)))
        let stopper = Task(executorPreference: reactor) {
            _ = try? await first.receive()  // the host closes the control socket when done
            try? await listener.close()
        }
        await withDiscardingTaskGroup { group in
            var accepted = 0
            while let connection = try? await listener.accept() {
                // Sampling /proc/self/fd costs a directory read: often enough to catch the peak.
                if accepted % 64 == 0 { PeakDescriptors.sample() }
                accepted += 1
                group.addTask(executorPreference: reactor) {
                    while let slice = try? await connection.receive() { try? await connection.send(slice) }
                    try? await connection.close()
                }
            }
        }
        _ = await stopper.value
    }
}

/// Multiplexer settings for benchmarks: defaults (256 KiB initial windows, auto-tuning to 16 MiB,
/// 64 KiB frames), no keepalive traffic during measurements.
let benchMuxConfiguration: MuxConfiguration = {
    var configuration = MuxConfiguration()
    configuration.keepAliveIntervalNanoseconds = nil
    return configuration
}()

/// The most file descriptors this process had open at any sample.
enum PeakDescriptors {
    static let peak = Atomic<Int>(0)
    static func sample() { peak.max(MemoryUsage.openDescriptors(), ordering: .relaxed) }
    static var value: Int { peak.load(ordering: .relaxed) }
}
