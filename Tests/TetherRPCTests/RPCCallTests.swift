import Foundation
import RPCFixtures
import Synchronization
import Testing
import TetherMux
import TetherPluginInterface
import TetherReactor
import TetherTesting

/// A `KeyValueClient` calling a `Store` served over a real in-process session pair.
private func withKeyValue(
    configuration: RPCConfiguration = RPCConfiguration(),
    _ body: @Sendable (KeyValueClient, Store, RPCChannel) async throws -> Void
) async throws {
    try await withServedStore { client, _, _, store in
        let channel = RPCChannel(session: client, configuration: configuration)
        try await body(KeyValueClient(channel: channel), store, channel)
    }
}

/// A `Store` served on `server` of a real in-process session pair, for tests that also look at
/// the sessions or the reactor.
private func withServedStore(
    _ body: @Sendable (_ client: MuxSession, _ server: MuxSession, Reactor, Store) async throws -> Void
) async throws {
    try await withMuxSessionPair { client, server, reactor in
        let store = Store()
        let rpcServer = RPCServer()
        rpcServer.register(KeyValueService(store))
        let serving = Task(executorPreference: reactor) { await rpcServer.serve(server) }
        defer { serving.cancel() }
        try await body(client, server, reactor, store)
    }
}

@Suite(.timeLimit(.minutes(1)))
struct RPCCallTests {
    @Test func unaryCallsCarryArgumentsAndResults() async throws {
        try await withKeyValue { kv, _, _ in
            let value = Data((0..<300).map { UInt8(truncatingIfNeeded: $0 * 7) })
            try await kv.put("a", value: value)
            #expect(try await kv.get("a") == value)
            #expect(try await kv.get("missing") == nil)
        }
    }

    @Test func serverStreamDeliversEveryItemInOrder() async throws {
        try await withKeyValue { kv, _, _ in
            var keys: [String] = []
            for try await change in try await kv.watch(prefix: "k", count: 1_000) {
                #expect(change.value == Data([UInt8(truncatingIfNeeded: keys.count)]))
                keys.append(change.key)
            }
            #expect(keys == (0..<1_000).map { "k\($0)" })
        }
    }

    @Test func receivedStreamCanBeIteratedOnce() async throws {
        try await withKeyValue { kv, _, _ in
            let changes = try await kv.watch(prefix: "k", count: 3)
            var first = changes.makeAsyncIterator()
            #expect(try await first.next()?.key == "k0")
            var second = changes.makeAsyncIterator()
            await #expect(throws: RPCError.self) { _ = try await second.next() }
        }
    }

    @Test func clientStreamIsConsumedToItsEnd() async throws {
        try await withKeyValue { kv, _, _ in
            let rows = RPCStream(elements: (0..<10_000).map { Row(id: $0, name: "row \($0)") })
            let count = try await kv.load(rows)
            #expect(count == 10_000)
        }
    }

    @Test func producerFailureFailsTheClientStreamingCall() async throws {
        try await withKeyValue { kv, _, _ in
            let rows = RPCStream<Row> { writer in
                try await writer.yield(Row(id: 0, name: "first"))
                throw DiskError()
            }
            await #expect(throws: DiskError.self) { _ = try await kv.load(rows) }
            // The session is still usable.
            let value = try await kv.get("x")
            #expect(value == nil)
        }
    }

    @Test func calleeFailureReachesACallerStillSendingItems() async throws {
        var configuration = RPCConfiguration()
        configuration.knownErrors = [StoreError.self]
        try await withKeyValue(configuration: configuration) { kv, _, _ in
            // The store fails at the first row (ids must start at 0) while the caller still has
            // 2 MB to send, far beyond the stream's window: the callee's failure is the answer,
            // not the reset that ends the caller's sending.
            let name = String(repeating: "n", count: 1024)
            let rows = RPCStream(elements: (5..<2_005).map { Row(id: $0, name: name) })
            await #expect(throws: StoreError.notFound("row 0, got 5")) { _ = try await kv.load(rows) }
        }
    }

    /// A result stream whose producer fails, before or after items: the caller gets the items
    /// sent, then the producer's own error (not a reset of the stream).
    @Test(arguments: [0, 3])
    func aResultStreamsProducerFailureReachesTheCaller(items: Int) async throws {
        var configuration = RPCConfiguration()
        configuration.knownErrors = [StoreError.self]
        try await withKeyValue(configuration: configuration) { kv, _, _ in
            var received: [Int] = []
            await #expect(throws: StoreError.readOnly) {
                for try await item in try await kv.countThenFail(items) { received.append(item) }
            }
            #expect(received == Array(0..<items))
        }
    }

    @Test func bidirectionalStreamsFlowBothWays() async throws {
        try await withKeyValue { kv, _, _ in
            let rows = RPCStream(elements: (0..<500).map { Row(id: $0, name: "r\($0)") })
            var received: [Row] = []
            for try await row in try await kv.rename(rows, suffix: "!") { received.append(row) }
            #expect(received == (0..<500).map { Row(id: $0, name: "r\($0)!") })
        }
    }

    @Test func knownCodableErrorArrivesAsItself() async throws {
        var configuration = RPCConfiguration()
        configuration.knownErrors = [StoreError.self]
        try await withKeyValue(configuration: configuration) { kv, _, _ in
            await #expect(throws: StoreError.notFound("missing")) { try await kv.fail(codable: true) }
        }
    }

    @Test func unknownErrorArrivesAsRemoteErrorWithTypeMessageAndPayload() async throws {
        try await withKeyValue { kv, _, _ in
            let codable = await #expect(throws: RemoteError.self) { try await kv.fail(codable: true) }
            #expect(codable?.typeName == String(reflecting: StoreError.self))
            #expect(codable?.decode(StoreError.self) == .notFound("missing"))
            let plain = await #expect(throws: RemoteError.self) { try await kv.fail(codable: false) }
            #expect(plain?.typeName == String(reflecting: DiskError.self))
            #expect(plain?.message == "disk on fire")
            #expect(plain?.payload == nil)
        }
    }

    @Test func unknownMethodAndServiceAreReported() async throws {
        try await withKeyValue { _, _, channel in
            let method = await #expect(throws: RPCError.self) { try await channel.unary("KeyValue.nothing()") { _ in } }
            #expect(method?.code == .unknownMethod)
            let other = RPCChannel(session: channel.session, service: "elsewhere")
            let service = await #expect(throws: RPCError.self) {
                _ = try await other.unary("KeyValue.get(_:)", returning: Data?.self) { try $0.encode("a") }
            }
            #expect(service?.code == .unknownMethod)
        }
    }

    @Test func badArgumentsAreReported() async throws {
        try await withKeyValue { kv, _, channel in
            let tooMany = await #expect(throws: RPCError.self) {
                _ = try await channel.unary("KeyValue.get(_:)", returning: Data?.self) {
                    try $0.encode("a")
                    try $0.encode("b")
                }
            }
            #expect(tooMany?.code == .badArguments)
            let wrongType = await #expect(throws: RPCError.self) {
                _ = try await channel.unary("KeyValue.get(_:)", returning: Data?.self) { try $0.encode([1, 2, 3]) }
            }
            #expect(wrongType?.code == .badArguments)
            let wrongResult = await #expect(throws: RPCError.self) {
                try await kv.put("a", value: Data([1]))
                _ = try await channel.unary("KeyValue.get(_:)", returning: Int.self) { try $0.encode("a") }
            }
            #expect(wrongResult?.code == .badResult)
        }
    }

    @Test func cancellingTheCallerCancelsTheHandler() async throws {
        try await withKeyValue { kv, store, _ in
            let call = Task { try await kv.block() }
            let started = try await eventually { store.startedBlocks.load(ordering: .relaxed) == 1 }
            #expect(started, "the handler started")
            call.cancel()
            await #expect(throws: CancellationError.self) { _ = try await call.value }
            let sawCancellation = try await eventually { store.cancelledHandlers.load(ordering: .relaxed) == 1 }
            #expect(sawCancellation, "the handler saw the cancellation")
            #expect(try await kv.get("still") == nil)
        }
    }

    @Test func deadlineFailsTheCallAndCancelsTheHandler() async throws {
        try await withKeyValue { kv, store, channel in
            let hurried = KeyValueClient(channel: channel.withTimeout(.milliseconds(50)))
            let error = await #expect(throws: RPCError.self) { _ = try await hurried.block() }
            #expect(error?.code == .deadlineExceeded)
            let cancelled = try await eventually { store.cancelledHandlers.load(ordering: .relaxed) == 1 }
            #expect(cancelled, "the handler was cancelled at its deadline")
            #expect(try await hurried.get("fast") == nil)
        }
    }

    @Test func tenThousandConcurrentCallsOnOneSession() async throws {
        try await withKeyValue { kv, _, _ in
            try await kv.put("k", value: Data("value".utf8))
            let matches = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<10_000 {
                    group.addTask { try await kv.get("k") == Data("value".utf8) }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(matches == 10_000)
        }
    }

    /// A consumer that took one item of a server stream and stops: once the callee's producer is
    /// seen waiting for the stream's window, it has produced at most the window's worth (256 KiB:
    /// about four 64 KiB items) plus the one it is writing. The count is read only after the
    /// producer is blocked, so a producer that has not run yet cannot pass it.
    @Test func slowConsumerBoundsWhatTheProducerRunsAhead() async throws {
        try await withServedStore { client, server, reactor, store in
            let kv = KeyValueClient(channel: RPCChannel(session: client))
            let itemBytes = 64 * 1024
            var iterator = try await kv.bulk(count: 400, itemBytes: itemBytes).makeAsyncIterator()
            #expect(try await iterator.next()?.count == itemBytes)
            let blocked = try await eventually(on: reactor) { await server.statistics.windowStalls > 0 }
            try #require(blocked, "the producer waits for the window")
            let ahead = store.bulkProduced.load(ordering: .relaxed)
            #expect(ahead <= 8, "the producer ran \(ahead) items ahead of a consumer that took one")
            var count = 1
            while let item = try await iterator.next() {
                #expect(item.first == UInt8(truncatingIfNeeded: count))
                count += 1
            }
            #expect(count == 400)
        }
    }

    /// The caller's deadline on its own: the callee (written by hand) reads the call and never
    /// answers, so only the caller's timer can end the call; it fails with `deadlineExceeded`
    /// and resets the call's stream.
    @Test func theCallersDeadlineEndsACallTheCalleeNeverAnswers() async throws {
        try await withMuxSessionPair { client, server, reactor in
            let peer = Task(executorPreference: reactor) { () async throws -> MuxStream in
                let stream = try await server.acceptStream()
                while try await stream.read() != nil {}  // the call message, then its FIN
                return stream
            }
            let channel = RPCChannel(session: client).withTimeout(.milliseconds(100))
            let error = await #expect(throws: RPCError.self) { try await channel.unary("KeyValue.block()") { _ in } }
            #expect(error?.code == .deadlineExceeded, "\(String(describing: error))")
            // The peer's side of the stream fails with the caller's reset (told at once if it has
            // already failed).
            let unanswered = try await peer.value
            let failure = Mutex<MuxError?>(nil)
            await unanswered.onFailure { error in failure.withLock { $0 = error } }
            let reset = try await eventually(on: reactor) { failure.withLock { $0?.code == .streamReset } }
            #expect(reset, "the caller reset the call's stream")
        }
    }

    /// The callee's deadline on its own: a call carries a 100 ms timeout while its caller keeps
    /// no timer, so only the callee can end it. It cancels the handler and answers
    /// `deadlineExceeded`.
    @Test func theCalleesDeadlineCancelsTheHandlerAndAnswers() async throws {
        try await withKeyValue { _, store, channel in
            let answer = try await answerToCallWithoutLocalDeadline(
                "KeyValue.block()", timeout: .milliseconds(100), on: channel.session)
            let error = try #require(answer, "the callee did not answer within 20 s")
            #expect((error as? RPCError)?.code == .deadlineExceeded, "\(error)")
            #expect(store.cancelledHandlers.load(ordering: .relaxed) == 1, "the handler was cancelled")
        }
    }

    /// A callee (written by hand) that resets the call's stream instead of answering: the call
    /// fails with `cancelled`, the code for a call the other side gave up.
    @Test func aCalleeThatResetsInsteadOfAnsweringFailsTheCallAsCancelled() async throws {
        try await withMuxSessionPair { client, server, reactor in
            let peer = Task(executorPreference: reactor) {
                let stream = try await server.acceptStream()
                while try await stream.read() != nil {}
                await stream.reset()
            }
            let channel = RPCChannel(session: client)
            let error = await #expect(throws: RPCError.self) {
                _ = try await channel.unary("KeyValue.get(_:)", returning: Data?.self) { try $0.encode("k") }
            }
            #expect(error?.code == .cancelled, "\(String(describing: error))")
            try await peer.value
        }
    }

    /// A callee (written by hand) that ends the call's stream (FIN) without a result: a unary
    /// call, and a result stream after one item, fail with `connectionLost` rather than
    /// returning as if complete.
    @Test(arguments: [false, true])
    func aCallStreamThatEndsWithoutAResultIsConnectionLost(streaming: Bool) async throws {
        try await withMuxSessionPair { client, server, reactor in
            let peer = Task(executorPreference: reactor) {
                let stream = try await server.acceptStream()
                while try await stream.read() != nil {}
                // `[2, 7]`: one item, for the result stream.
                if streaming { try await stream.write(BufferSlice(copying: [0, 0, 0, 3, 0x92, 0x02, 0x07])) }
                try await stream.closeWrite()
            }
            let channel = RPCChannel(session: client)
            var items: [Int] = []
            let error = await #expect(throws: RPCError.self) {
                if streaming {
                    let stream = try await channel.serverStreaming("KeyValue.items()", of: Int.self) { _ in }
                    for try await item in stream { items.append(item) }
                } else {
                    _ = try await channel.unary("KeyValue.get(_:)", returning: Data?.self) { try $0.encode("k") }
                }
            }
            #expect(error?.code == .connectionLost, "\(String(describing: error))")
            #expect(items == (streaming ? [7] : []))
            try await peer.value
        }
    }
}
