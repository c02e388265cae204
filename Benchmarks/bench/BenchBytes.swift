import TetherMux
import TetherRPC
import TetherReactor
import TetherTesting

// What `@PluginInterface` generates for
//
//     protocol BenchBytes { func sink(_ data: ByteStream) async throws -> Int }
//
// written out here, as BenchEcho is: the release bench does not build swift-syntax, and these are
// exactly the runtime calls the macro's client and service make.

struct BenchBytesClient: RPCClientStub {
    let channel: RPCChannel

    init(channel: RPCChannel) { self.channel = channel }

    /// Sends `data` as a byte stream; the plugin reads it to its end and returns its length.
    func sink(_ data: ByteStream) async throws -> Int {
        try await channel.clientStreaming("BenchBytes.sink(_:)", sending: data, returning: Int.self) { _ in }
    }
}

struct BenchBytesService: RPCService {
    static var interfaceName: String { "BenchBytes" }
    static var methodNames: [String] { ["BenchBytes.sink(_:)"] }

    func handle(_ call: RPCIncomingCall) async throws {
        switch call.method {
        case "BenchBytes.sink(_:)":
            _ = try call.arguments(count: 0)
            let data = call.incomingBytes()
            var count = 0
            for try await slice in data { count += slice.count }
            try await call.respond(count)
        default:
            throw RPCError(.unknownMethod, call.method)
        }
    }
}

extension ThroughputCommand {
    /// One run of the `ByteStream RPC` row: one call whose argument is `bytes` raw bytes in the
    /// same 64 KiB writes as the mux rows, to the peer's `BenchBytes.sink`, which answers with
    /// the count. Returns GB/s and the bytes our code copied on the sending side.
    static func byteStreamRun(transport: Transport, bytes: Int, reactor: Reactor) async throws -> (Double, UInt64) {
        let link = try await PeerLink.launch(["rpc-serve"], over: transport, reactor: reactor)
        let session = try await MuxSession(socket: link.socket, role: .client, configuration: benchMuxConfiguration)
        let chunk = BufferSlice(count: 64 * 1024) { span in
            for index in span.indices { span[index] = UInt8(truncatingIfNeeded: index) }
        }
        let client = BenchBytesClient(channel: RPCChannel(session: session))
        let clock = ContinuousClock()
        let start = clock.now
        let received = try await client.sink(
            ByteStream { writer in
                var sent = 0
                while sent < bytes {
                    let slice = bytes - sent >= chunk.count ? chunk : chunk.slice(0..<(bytes - sent))
                    try await writer.write(slice)
                    sent += slice.count
                }
            })
        let elapsed = clock.now - start
        guard received == bytes else { throw BenchError("peer sank \(received) of \(bytes) bytes") }
        let copied = await session.statistics.bytesCopied
        await session.close()
        _ = try await link.finish()
        return (Double(bytes) / elapsed.seconds / 1e9, copied)
    }
}
