import Foundation
import RPCFixtures
import Testing
import TetherMessagePack
import TetherMux
import TetherReactor
import TetherTesting

@testable import TetherRPC

/// Calls `method` (no arguments) carrying `timeout` in the call message, as a caller that keeps no
/// deadline of its own: the callee's answer decides. Returns the error of the failure message the
/// callee answers with, or nil when it does not answer within 20 s (the stream is then dropped,
/// which resets it).
func answerToCallWithoutLocalDeadline(_ method: String, timeout: Duration, on session: MuxSession)
    async throws -> (any Error)?
{
    let builder = RPCMessageBuilder(encoder: MessagePackEncoder(), maxMessageBytes: 1 << 20)
    let call = try builder.call(
        service: nil, method: method, timeoutNanoseconds: UInt64(timeout / .nanoseconds(1)),
        arguments: RPCArgumentEncoder(encoder: builder.encoder))
    let stream = try await session.openStream()
    try await stream.writeAndClose([BufferSlice(copying: call)])
    let context = RPCDecodingContext(configuration: RPCConfiguration())
    return try await withThrowingTaskGroup(of: Optional<any Error>.self) { group in
        group.addTask {
            var messages = context.messages(on: stream)
            let message = try await messages.next()
            guard case .failure(let failure) = message else {
                return RPCError(.protocolViolation, "expected a failure message, got \(String(describing: message))")
            }
            return context.error(for: failure)
        }
        // A bound, not a synchronization: a callee that ignores the deadline fails the test
        // here instead of at the suite's time limit.
        group.addTask {
            try await Task.sleep(for: .seconds(20))
            return nil
        }
        defer { group.cancelAll() }
        return try await group.next() ?? nil
    }
}

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

    @Test func remoteErrorsAcrossProcesses() async throws {
        try await withPluginProcess { kv, channel in
            let remote = await #expect(throws: RemoteError.self) { try await kv.fail(codable: true) }
            #expect(remote?.decode(StoreError.self) == .notFound("missing"))
            // A handler that throws `CancellationError` reaches the caller as `cancelled`.
            let gaveUp = await #expect(throws: RPCError.self) { try await GivesUpClient(channel: channel).giveUp() }
            #expect(gaveUp?.code == .cancelled, "\(String(describing: gaveUp))")
        }
    }

    /// Cancelling a call that has reached the plugin's handler (the plugin counts it started)
    /// ends the call here with `CancellationError` and cancels that handler in the plugin.
    @Test func cancellingACallCancelsThePluginsHandler() async throws {
        try await withPluginProcess { kv, channel in
            let probe = StoreProbeClient(channel: channel)
            let call = Task { try await kv.block() }
            let started = try await eventually { (try? await probe.startedBlocks()) == 1 }
            try #require(started, "the handler started in the plugin")
            call.cancel()
            await #expect(throws: CancellationError.self) { _ = try await call.value }
            let cancelled = try await eventually { (try? await probe.cancelledHandlers()) == 1 }
            #expect(cancelled, "the plugin's handler was cancelled")
            #expect(try await kv.get("after") == nil)
        }
    }

    /// The caller's deadline and the plugin's together: the call fails here with
    /// `deadlineExceeded` and the plugin's handler is cancelled.
    ///
    /// On a slow machine (a sanitizer, a loaded CI) a short deadline can pass before the call
    /// reaches the plugin's handler, which then has nothing to cancel: the call is made again
    /// with a longer deadline until one reached it. Every handler that started is cancelled.
    @Test func aDeadlineFailsTheCallAndCancelsThePluginsHandler() async throws {
        try await withPluginProcess { kv, channel in
            let probe = StoreProbeClient(channel: channel)
            for milliseconds in [50, 250, 1_000, 5_000] {
                let hurried = KeyValueClient(channel: kv.channel.withTimeout(.milliseconds(milliseconds)))
                let late = await #expect(throws: RPCError.self) { _ = try await hurried.block() }
                #expect(late?.code == .deadlineExceeded)
                if try await probe.startedBlocks() > 0 { break }
            }
            let started = try await probe.startedBlocks()
            try #require(started > 0, "no call reached the plugin's handler")
            let cancelled = try await eventually { (try? await probe.cancelledHandlers()) == started }
            #expect(cancelled, "the plugin's handler was cancelled at its deadline")
        }
    }

    /// The plugin's deadline on its own: a hand-written call carries a 100 ms timeout while the
    /// caller keeps no timer of its own, so only the plugin can end it. The plugin cancels its
    /// handler and answers `deadlineExceeded` on the call's stream.
    @Test func thePluginAnswersDeadlineExceededOnItsOwn() async throws {
        try await withPluginProcess { _, channel in
            let answer = try await answerToCallWithoutLocalDeadline(
                "KeyValue.block()", timeout: .milliseconds(100), on: channel.session)
            let error = try #require(answer, "the plugin did not answer within 20 s")
            #expect((error as? RPCError)?.code == .deadlineExceeded, "\(error)")
            // The handler counted its cancellation before the failure was sent.
            #expect(try await StoreProbeClient(channel: channel).cancelledHandlers() == 1)
        }
    }

    /// Byte streams across processes: an upload, a download and an echo of several MiB arrive
    /// intact and in order, and a producer failing mid-download ends it with `streamReset`
    /// after the bytes before it.
    @Test func byteStreamsAcrossProcesses() async throws {
        try await withPluginProcess { _, channel in
            let blobs = BlobsClient(channel: channel)
            let byteCount = 3 * 1024 * 1024 + 17
            let upload = BlobPattern.stream(byteCount: byteCount, chunkBytes: 40_000, seed: 11)
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
