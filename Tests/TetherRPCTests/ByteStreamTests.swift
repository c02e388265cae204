import RPCFixtures
import Synchronization
import Testing
import TetherMessagePack
import TetherMux
import TetherReactor
import TetherTesting

@testable import TetherRPC

private struct Broken: Error, Equatable {}

/// The sizes every transfer test sends: empty, one byte, one stream window's quarter, several
/// windows' worth.
private let transferSizes = [0, 1, 64 * 1024, 5 * 1024 * 1024 + 3]

/// The initial yamux window: what a sender may have in flight before the receiver reads.
private let windowBytes = 256 * 1024

/// Reads `bytes` to its end: how many bytes and the first position that is not the pattern.
private func check(_ bytes: ByteStream, seed: UInt8) async throws -> BlobCheck {
    var count = 0
    var mismatch: Int?
    for try await slice in bytes {
        #expect(!slice.isEmpty)
        if mismatch == nil { mismatch = BlobPattern.firstMismatch(in: slice, at: count, seed: seed) }
        count += slice.count
    }
    return BlobCheck(byteCount: count, firstMismatch: mismatch)
}

private struct BlobsFixture: Sendable {
    let blobs: BlobsClient
    let store: BlobStore
    let channel: RPCChannel
    let client: MuxSession
    let server: MuxSession
    let reactor: Reactor

    /// Waits until both sessions have forgotten every stream: no call left anything open.
    func expectNoStreamsLeft(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let client = self.client
        let server = self.server
        let closed = try await eventually(on: reactor) {
            let clientStreams = await client.streamCount
            let serverStreams = await server.streamCount
            return clientStreams == 0 && serverStreams == 0
        }
        #expect(closed, "streams left open", sourceLocation: sourceLocation)
    }
}

/// A `BlobsClient` calling a `BlobStore` served over a real in-process session pair.
private func withBlobs(_ body: @Sendable (BlobsFixture) async throws -> Void) async throws {
    try await withMuxSessionPair { client, server, reactor in
        let store = BlobStore()
        let rpcServer = RPCServer()
        rpcServer.register(BlobsService(store))
        let serving = Task(executorPreference: reactor) { await rpcServer.serve(server) }
        defer { serving.cancel() }
        let channel = RPCChannel(session: client)
        try await body(
            BlobsFixture(
                blobs: BlobsClient(channel: channel), store: store, channel: channel, client: client, server: server,
                reactor: reactor))
    }
}

/// A byte stream made and iterated here, without RPC.
@Suite(.timeLimit(.minutes(1))) struct LocalByteStreamTests {
    @Test func localStreamYieldsItsSlicesInOrderWithoutEmptyOnes() async throws {
        let slices = [BufferSlice(copying: [1, 2]), BufferSlice(copying: []), BufferSlice(copying: [3])]
        var received: [[UInt8]] = []
        for try await slice in ByteStream(slices: slices) { received.append(slice.bytes) }
        #expect(received == [[1, 2], [3]])
    }

    @Test func producerFailureComesAfterTheBytesItWrote() async throws {
        let stream = ByteStream { writer in
            try await writer.write(copying: [7])
            throw Broken()
        }
        var iterator = stream.makeAsyncIterator()
        #expect(try await iterator.next()?.bytes == [7])
        await #expect(throws: Broken.self) { _ = try await iterator.next() }
    }

    @Test func collectStopsAtItsLimit() async throws {
        #expect(try await ByteStream(copying: [1, 2, 3]).collect(upTo: 3) == [1, 2, 3])
        let error = await #expect(throws: RPCError.self) {
            _ = try await ByteStream(copying: [1, 2, 3]).collect(upTo: 2)
        }
        #expect(error?.code == .resourceExhausted)
    }

    /// The bytes after the last message are handed on as they are: a slice of the last slice,
    /// or, when they span slices, a copy of all of them.
    @Test func framerHandsOnTheBytesAfterTheLastMessage() throws {
        var framer = RPCMessageFramer(maxMessageBytes: 1024)
        framer.append(BufferSlice(copying: [0, 0, 0, 1, 0xc0, 9, 8]))
        #expect(try framer.next().map(Array.init) == [0xc0])
        #expect(try framer.next() == nil)
        #expect(framer.takeRemainder()?.bytes == [9, 8])
        #expect(framer.takeRemainder() == nil)

        framer.append(BufferSlice(copying: [0, 0, 0, 2, 0x92]))
        framer.append(BufferSlice(copying: [0xc0, 5]))
        #expect(try framer.next().map(Array.init) == [0x92, 0xc0])
        #expect(framer.takeRemainder()?.bytes == [5])

        framer.append(BufferSlice(copying: [0, 0]))
        framer.append(BufferSlice(copying: [0, 9]))
        #expect(try framer.next() == nil)
        #expect(framer.takeRemainder()?.bytes == [0, 0, 0, 9])
    }
}

@Suite(.serialized, .timeLimit(.minutes(2)))
struct ByteStreamCallTests {
    @Test(arguments: transferSizes)
    func uploadArrivesIntactAndInOrder(byteCount: Int) async throws {
        try await withBlobs { fixture in
            let result = try await fixture.blobs.upload(BlobPattern.stream(byteCount: byteCount, seed: 3), seed: 3)
            #expect(result == BlobCheck(byteCount: byteCount, firstMismatch: nil))
            try await fixture.expectNoStreamsLeft()
        }
    }

    @Test(arguments: transferSizes)
    func downloadArrivesIntactAndInOrder(byteCount: Int) async throws {
        try await withBlobs { fixture in
            let bytes = try await fixture.blobs.download(
                seed: 5, byteCount: byteCount, chunkBytes: 64 * 1024, failAfter: nil)
            #expect(try await check(bytes, seed: 5) == BlobCheck(byteCount: byteCount, firstMismatch: nil))
            try await fixture.expectNoStreamsLeft()
        }
    }

    /// Both directions at once: the callee forwards the slices it receives as its result.
    @Test(arguments: transferSizes)
    func echoFlowsBothWaysAtOnce(byteCount: Int) async throws {
        try await withBlobs { fixture in
            let echoed = try await fixture.blobs.echo(
                BlobPattern.stream(byteCount: byteCount, chunkBytes: 70_000, seed: 9))
            #expect(try await check(echoed, seed: 9) == BlobCheck(byteCount: byteCount, firstMismatch: nil))
            try await fixture.expectNoStreamsLeft()
        }
    }

    /// A callee that does not read stops the caller's producer once the stream's window is
    /// used: the producer is seen waiting for the window with at most a window's worth written.
    @Test func uploadProducerWaitsForASlowConsumer() async throws {
        try await withBlobs { fixture in
            let written = Atomic<Int>(0)
            let byteCount = 4 * 1024 * 1024
            let upload = Task {
                try await fixture.blobs.hold(
                    BlobPattern.stream(byteCount: byteCount, seed: 1) { written.add($0, ordering: .relaxed) },
                    readBytes: .max)
            }
            let client = fixture.client
            let blocked = try await eventually(on: fixture.reactor) { await client.statistics.windowStalls > 0 }
            #expect(blocked, "the producer waits for the window")
            #expect(written.load(ordering: .relaxed) <= windowBytes)
            #expect(fixture.store.heldBytesRead.load(ordering: .relaxed) == 0)
            fixture.store.openGate()
            #expect(try await upload.value == byteCount)
            try await fixture.expectNoStreamsLeft()
        }
    }

    /// A caller that stops reading a download stops the callee's producer the same way.
    @Test func downloadProducerWaitsForASlowConsumer() async throws {
        try await withBlobs { fixture in
            let byteCount = 8 * 1024 * 1024
            var iterator = try await fixture.blobs.download(
                seed: 2, byteCount: byteCount, chunkBytes: 64 * 1024, failAfter: nil
            ).makeAsyncIterator()
            let first = try #require(try await iterator.next())
            let server = fixture.server
            let blocked = try await eventually(on: fixture.reactor) { await server.statistics.windowStalls > 0 }
            #expect(blocked, "the producer waits for the window")
            #expect(fixture.store.producedBytes.load(ordering: .relaxed) <= windowBytes + first.count)
            var count = first.count
            while let slice = try await iterator.next() {
                #expect(BlobPattern.firstMismatch(in: slice, at: count, seed: 2) == nil)
                count += slice.count
            }
            #expect(count == byteCount)
        }
    }

    /// The caller cancels while reading a download: it gets `CancellationError`, the reset stops
    /// the callee's producer, and nothing stays open.
    @Test func cancellingTheDownloadReaderStopsTheProducer() async throws {
        try await withBlobs { fixture in
            let firstRead = Atomic<Bool>(false)
            let reading = Task {
                let bytes = try await fixture.blobs.download(
                    seed: 4, byteCount: 1 << 40, chunkBytes: 64 * 1024, failAfter: nil)
                for try await _ in bytes { firstRead.store(true, ordering: .relaxed) }
            }
            let started = try await eventually(on: fixture.reactor) { firstRead.load(ordering: .relaxed) }
            #expect(started)
            reading.cancel()
            await #expect(throws: CancellationError.self) { try await reading.value }
            let stopped = try await eventually(on: fixture.reactor) {
                fixture.store.interruptions.load(ordering: .relaxed) == 1
            }
            #expect(stopped, "the producer stopped")
            try await fixture.expectNoStreamsLeft()
        }
    }

    /// Dropping a download before its end is the same for the producer: the stream is reset.
    @Test func droppingADownloadStopsTheProducer() async throws {
        try await withBlobs { fixture in
            do {
                var iterator = try await fixture.blobs.download(
                    seed: 4, byteCount: 1 << 40, chunkBytes: 64 * 1024, failAfter: nil
                ).makeAsyncIterator()
                _ = try await iterator.next()
            }
            let stopped = try await eventually(on: fixture.reactor) {
                fixture.store.interruptions.load(ordering: .relaxed) == 1
            }
            #expect(stopped, "the producer stopped")
            try await fixture.expectNoStreamsLeft()
        }
    }

    /// The callee stops reading an upload and answers: its answer stands and the caller's
    /// producer is cancelled.
    @Test func calleeThatStopsReadingCancelsTheUploadProducer() async throws {
        try await withBlobs { fixture in
            fixture.store.openGate()
            let producerError = Mutex<(any Error)?>(nil)
            let upload = ByteStream { writer in
                do {
                    try await BlobPattern.stream(byteCount: 1 << 40, seed: 1).forEachChunk {
                        try await writer.write($0)
                    }
                } catch {
                    producerError.withLock { $0 = error }
                    throw error
                }
            }
            let read = try await fixture.blobs.hold(upload, readBytes: 100_000)
            #expect(read >= 100_000)
            let stopped = try await eventually(on: fixture.reactor) { producerError.withLock { $0 != nil } }
            #expect(stopped, "the producer was stopped")
            try await fixture.expectNoStreamsLeft()
        }
    }

    /// The caller cancels an upload whose producer is blocked on the window: the call ends with
    /// `CancellationError` and the callee's handler sees the reset.
    @Test func cancellingAnUploadResetsTheCallee() async throws {
        try await withBlobs { fixture in
            let upload = Task {
                try await fixture.blobs.hold(BlobPattern.stream(byteCount: 1 << 40, seed: 1), readBytes: .max)
            }
            let client = fixture.client
            let blocked = try await eventually(on: fixture.reactor) { await client.statistics.windowStalls > 0 }
            #expect(blocked)
            upload.cancel()
            await #expect(throws: CancellationError.self) { _ = try await upload.value }
            fixture.store.openGate()
            let seen = try await eventually(on: fixture.reactor) {
                fixture.store.interruptions.load(ordering: .relaxed) == 1
            }
            #expect(seen, "the callee saw the cancellation")
            try await fixture.expectNoStreamsLeft()
        }
    }

    /// An upload whose producer throws mid-stream fails with the producer's own error; the
    /// callee's handler is cancelled by the reset before its end and its read of the bytes
    /// throws `CancellationError`, never `streamReset`: the server cancels the handler's task in
    /// the same turn of the reactor that processes the caller's RST (`MuxStream.onFailure`),
    /// before the reader's task runs again, and both a woken read and the reader's next step
    /// look at the task's cancellation before the stream (the guide's table of how byte streams
    /// end says so too). `streamReset` here would mean that the reset did not cancel the handler.
    @Test func uploadProducerFailureFailsTheCallWithItsError() async throws {
        try await withBlobs { fixture in
            let failing = ByteStream { writer in
                try await BlobPattern.stream(byteCount: 300_000, seed: 1).forEachChunk { try await writer.write($0) }
                throw Broken()
            }
            await #expect(throws: Broken.self) { _ = try await fixture.blobs.upload(failing, seed: 1) }
            let seen = try await eventually(on: fixture.reactor) {
                fixture.store.interruptions.load(ordering: .relaxed) == 1
            }
            #expect(seen)
            let reason = fixture.store.interruptionReasons.withLock { $0.first }
            #expect(reason == "CancellationError")
            try await fixture.expectNoStreamsLeft()
        }
    }

    /// Both ways at once: the caller's own producer fails after the callee's stream began; the
    /// caller's reader gets that failure (not a reset it would read as its own cancellation).
    @Test func echoProducerFailureReachesTheCallersReader() async throws {
        try await withBlobs { fixture in
            // The producer fails only once the echo has begun (its call returned).
            let (begun, echoBegan) = AsyncStream<Void>.makeStream()
            let failing = ByteStream { writer in
                try await writer.write(copying: Array(repeating: 7, count: 1_000))
                for await _ in begun { break }
                throw Broken()
            }
            let echoed = try await fixture.blobs.echo(failing)
            // Every byte sent before the failure arrives first; then the failure, as itself.
            var count = 0
            await #expect(throws: Broken.self) {
                for try await slice in echoed {
                    count += slice.count
                    if count == 1_000 { echoBegan.yield() }
                }
            }
            #expect(count == 1_000)
            try await fixture.expectNoStreamsLeft()
        }
    }

    /// A download whose producer throws mid-stream: the bytes before it arrive intact, then the
    /// reader gets `streamReset`, never a clean end.
    @Test func downloadProducerFailureEndsTheStreamWithStreamReset() async throws {
        try await withBlobs { fixture in
            let failAfter = 1024 * 1024
            let bytes = try await fixture.blobs.download(
                seed: 6, byteCount: 4 * failAfter, chunkBytes: 64 * 1024, failAfter: failAfter)
            var count = 0
            let error = await #expect(throws: RPCError.self) {
                for try await slice in bytes {
                    #expect(BlobPattern.firstMismatch(in: slice, at: count, seed: 6) == nil)
                    count += slice.count
                }
            }
            #expect(error?.code == .streamReset)
            #expect(count == failAfter)
            try await fixture.expectNoStreamsLeft()
        }
    }

    /// A peer that resets the stream mid-way through a byte-stream result (written by hand: the
    /// wire as 11.6 describes it): the bytes before arrive, then `streamReset`.
    @Test func peerResetMidStreamIsStreamReset() async throws {
        try await withMuxSessionPair { client, server, reactor in
            let peer = Task(executorPreference: reactor) {
                let stream = try await server.acceptStream()
                _ = try await stream.read()  // the call message, with FIN
                try await stream.write([BufferSlice(copying: [0, 0, 0, 3, 0x92, 0x03, 0xc0])])
                try await stream.write([BufferSlice(copying: [UInt8](repeating: 0xab, count: 1000))])
                await stream.reset()
            }
            let channel = RPCChannel(session: client)
            let bytes = try await channel.serverStreamingBytes("Blobs.anything()") { _ in }
            var count = 0
            let error = await #expect(throws: RPCError.self) {
                for try await slice in bytes { count += slice.count }
            }
            #expect(error?.code == .streamReset)
            #expect(count == 1000)
            try await peer.value
        }
    }

    /// A caller's deadline covers the whole download: a reader past it gets `deadlineExceeded`
    /// and the producer is stopped.
    @Test func deadlineEndsADownloadInProgress() async throws {
        try await withBlobs { fixture in
            // Long enough for the first slice to arrive on a loaded machine; the download is endless.
            let hurried = BlobsClient(channel: fixture.channel.withTimeout(.seconds(2)))
            var iterator = try await hurried.download(
                seed: 1, byteCount: 1 << 40, chunkBytes: 64 * 1024, failAfter: nil
            ).makeAsyncIterator()
            _ = try await iterator.next()
            // The deadline resets the stream: wait for that, then read.
            try await fixture.expectNoStreamsLeft()
            let error = await #expect(throws: RPCError.self) {
                while try await iterator.next() != nil {}
            }
            #expect(error?.code == .deadlineExceeded)
            #expect(fixture.store.interruptions.load(ordering: .relaxed) == 1)
        }
    }

    /// An upload that the callee does not read fails at its deadline.
    @Test func deadlineEndsAStalledUpload() async throws {
        try await withBlobs { fixture in
            let hurried = BlobsClient(channel: fixture.channel.withTimeout(.milliseconds(100)))
            let error = await #expect(throws: RPCError.self) {
                _ = try await hurried.hold(BlobPattern.stream(byteCount: 1 << 40, seed: 1), readBytes: .max)
            }
            #expect(error?.code == .deadlineExceeded)
            fixture.store.openGate()
            try await fixture.expectNoStreamsLeft()
        }
    }

    /// A handler that fails before its byte-stream result starts answers with a failure
    /// message: the caller gets the error itself, not a stream.
    @Test func failureBeforeTheBytesArrivesAsTheError() async throws {
        try await withBlobs { fixture in
            var configuration = RPCConfiguration()
            configuration.knownErrors = [BlobProducerFailed.self]
            let channel = RPCChannel(session: fixture.client, configuration: configuration)
            let bytes = try await BlobsClient(channel: channel).download(
                seed: 0, byteCount: 10, chunkBytes: 10, failAfter: 0)
            // The producer runs after `[3, nil]`, so even its first failure is a reset.
            let error = await #expect(throws: RPCError.self) { _ = try await bytes.collect(upTo: 100) }
            #expect(error?.code == .streamReset)
            let unknown = await #expect(throws: RPCError.self) {
                _ = try await channel.serverStreamingBytes("Blobs.nothing()") { _ in }
            }
            #expect(unknown?.code == .unknownMethod)
            try await fixture.expectNoStreamsLeft()
        }
    }

    /// The callee's deadline passing after `[3, nil]` resets the stream: a failure message there
    /// would read as data. A hand-written caller (which enforces no deadline of its own) sends
    /// the timeout to a producer that writes 1,000 bytes and then idles with room in the
    /// window, waits for the callee to let go of the stream, and then finds only those bytes
    /// before the reset.
    @Test func calleeDeadlineAfterTheBytesBeganIsAReset() async throws {
        try await withBlobs { fixture in
            let builder = RPCMessageBuilder(encoder: MessagePackEncoder(), maxMessageBytes: 1 << 20)
            var arguments = RPCArgumentEncoder(encoder: builder.encoder)
            try arguments.encode(UInt8(8))
            try arguments.encode(1_000)
            let call = try builder.call(
                service: nil, method: "Blobs.trickle(seed:byteCount:)",
                timeoutNanoseconds: 100_000_000, arguments: arguments)
            let stream = try await fixture.client.openStream()
            try await stream.writeAndClose([BufferSlice(copying: call)])
            var messages = RPCDecodingContext(configuration: RPCConfiguration()).messages(on: stream)
            guard case .result = try await messages.next() else {
                Issue.record("no [3, nil] before the bytes")
                return
            }
            var count = 0
            if let first = messages.takeRemainder() {
                #expect(BlobPattern.firstMismatch(in: first, at: 0, seed: 8) == nil)
                count += first.count
            }
            let server = fixture.server
            let released = try await eventually(on: fixture.reactor) {
                let streams = await server.streamCount
                return streams == 0
            }
            #expect(released, "the callee reset the stream at its deadline")
            let error = await #expect(throws: MuxError.self) {
                while let slice = try await stream.read() {
                    #expect(BlobPattern.firstMismatch(in: slice, at: count, seed: 8) == nil)
                    count += slice.count
                }
            }
            #expect(error?.code == .streamReset)
            #expect(count == 1_000)
        }
    }
}

/// A handler that takes the caller's bytes twice: the second stream is consumed, the first has
/// every byte.
@Suite(.timeLimit(.minutes(1)))
struct ByteStreamTakenTwiceTests {
    private struct TakesTwice: RPCService {
        static var interfaceName: String { "Twice" }
        static var methodNames: [String] { ["Twice.take()"] }

        func handle(_ call: RPCIncomingCall) async throws {
            _ = try call.arguments(count: 0)
            let first = call.incomingBytes()
            let second = call.incomingBytes()
            var secondError = "none"
            do {
                for try await _ in second {}
            } catch let error as RPCError {
                secondError = error.code.name
            }
            let count = try await first.collect(upTo: 1 << 20).count
            try await call.respond("\(count) \(secondError)")
        }
    }

    @Test func aSecondTakerGetsAConsumedStream() async throws {
        try await withMuxSessionPair { client, server, reactor in
            let rpc = RPCServer()
            rpc.register(TakesTwice())
            let serving = Task(executorPreference: reactor) { await rpc.serve(server) }
            defer { serving.cancel() }
            let answer = try await RPCChannel(session: client).clientStreaming(
                "Twice.take()", sending: ByteStream(copying: Array(repeating: 1, count: 100_000)),
                returning: String.self
            ) { _ in }
            #expect(answer == "100000 streamConsumed")
        }
    }
}
