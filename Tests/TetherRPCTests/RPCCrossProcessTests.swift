import Foundation
import RPCFixtures
import Testing
import TetherMux
import TetherReactor
import TetherTesting

/// The test plugin executable, built beside the test binary.
private var pluginPath: String { TestExecutables.path("tether-rpc-test-plugin") }

/// A `KeyValueClient` talking to the test plugin in its own process.
private func withPluginProcess(
    _ body: @Sendable (KeyValueClient, RPCChannel) async throws -> Void
) async throws {
    try await withReactor { reactor in
        let plugin = try await SocketPeerProcess.start(executable: pluginPath, arguments: [], on: reactor)
        let session = try await MuxSession(socket: plugin.socket, role: .client)
        let channel = RPCChannel(session: session)
        do {
            try await body(KeyValueClient(channel: channel), channel)
            await session.close()
            let (status, _) = try await plugin.finish(timeout: .seconds(30))
            #expect(status == .exited(code: 0))
        } catch {
            await session.close()
            _ = try? await plugin.finish(timeout: .seconds(30))
            throw error
        }
    }
}

@Suite(.serialized, .timeLimit(.minutes(1)))
struct RPCCrossProcessTests {
    @Test func unaryAndStreamingCallsAcrossProcesses() async throws {
        try await withPluginProcess { kv, _ in
            let value = Data((0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 13) })
            try await kv.put("big", value: value)
            #expect(try await kv.get("big") == value)
            var count = 0
            for try await change in try await kv.watch(prefix: "p", count: 2_000) {
                #expect(change.key == "p\(count)")
                count += 1
            }
            #expect(count == 2_000)
            #expect(try await kv.load(RPCStream(elements: (0..<5_000).map { Row(id: $0, name: "\($0)") })) == 5_000)
            var renamed = 0
            for try await row in try await kv.rename(RPCStream(elements: [Row(id: 0, name: "a")]), suffix: "b") {
                #expect(row == Row(id: 0, name: "ab"))
                renamed += 1
            }
            #expect(renamed == 1)
        }
    }

    @Test func remoteErrorsAndCancellationAcrossProcesses() async throws {
        try await withPluginProcess { kv, _ in
            let remote = await #expect(throws: RemoteError.self) { try await kv.fail(codable: true) }
            #expect(remote?.decode(StoreError.self) == .notFound("missing"))
            let call = Task { try await kv.block() }
            // The handler is in another process: cancel at once; the RST travels either way.
            call.cancel()
            await #expect(throws: CancellationError.self) { _ = try await call.value }
            let hurried = KeyValueClient(channel: kv.channel.withTimeout(.milliseconds(50)))
            let late = await #expect(throws: RPCError.self) { _ = try await hurried.block() }
            #expect(late?.code == .deadlineExceeded)
            let after = try await kv.get("after")
            #expect(after == nil)
        }
    }

    /// Byte streams across processes: an upload, a download and an echo of several MiB arrive
    /// intact and in order, and a producer failing mid-download ends it with `streamReset`
    /// after the bytes before it.
    @Test func byteStreamsAcrossProcesses() async throws {
        try await withPluginProcess { _, channel in
            let blobs = BlobsClient(channel: channel)
            let byteCount = 3 * 1024 * 1024 + 17
            let upload = ByteStream { writer in
                var sent = 0
                while sent < byteCount {
                    let count = min(40_000, byteCount - sent)
                    try await writer.write(BlobPattern.slice(from: sent, count: count, seed: 11))
                    sent += count
                }
            }
            #expect(try await blobs.upload(upload, seed: 11) == BlobCheck(byteCount: byteCount, firstMismatch: nil))
            for bytes in [
                try await blobs.download(seed: 12, byteCount: byteCount, chunkBytes: 64 * 1024, failAfter: nil),
                try await blobs.echo(
                    try await blobs.download(seed: 12, byteCount: byteCount, chunkBytes: 32 * 1024, failAfter: nil)),
            ] {
                var count = 0
                for try await slice in bytes {
                    #expect(BlobPattern.firstMismatch(in: slice, at: count, seed: 12) == nil)
                    count += slice.count
                }
                #expect(count == byteCount)
            }
            let failing = try await blobs.download(
                seed: 13, byteCount: byteCount, chunkBytes: 64 * 1024, failAfter: 1024 * 1024)
            var count = 0
            let error = await #expect(throws: RPCError.self) {
                for try await slice in failing { count += slice.count }
            }
            #expect(error?.code == .streamReset)
            #expect(count == 1024 * 1024)
        }
    }
}
