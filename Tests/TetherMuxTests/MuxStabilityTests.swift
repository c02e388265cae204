import Synchronization
import Testing
import TetherMux
import TetherReactor
import TetherTesting

/// A session against a hostile peer written frame by frame on the other end of a real socket:
/// floods, a peer that never reads, reused stream IDs, streams it never lets finish. Each test
/// asserts what the session holds (memory, streams, buffered bytes) and that it ends.
@Suite(.timeLimit(.minutes(1))) struct MuxStabilityTests {
    /// A session over one end of a socketpair whose other end `body` drives by hand.
    private func withHostilePeer(
        role: MuxRole = .server, configuration: MuxConfiguration = MuxConfiguration(),
        _ body: @Sendable (MuxSession, StreamSocket, Reactor) async throws -> Void
    ) async throws {
        try await withReactor { reactor in
            let (victimSocket, raw) = try StreamSocket.makePair(on: reactor)
            let victim = try await MuxSession(socket: victimSocket, role: role, configuration: configuration)
            try await body(victim, raw, reactor)
            await victim.close()
            try? await raw.close()
        }
    }

    /// Frames encoded back to back.
    private func frames(_ headers: [FrameHeader]) -> BufferSlice {
        var bytes: [UInt8] = []
        for header in headers { header.encode(into: &bytes) }
        return BufferSlice(copying: bytes)
    }

    /// The most the heap grew over `baseline` in `samples` samples a few milliseconds apart.
    private func heapGrowth(over baseline: Int, samples: Int = 20, on reactor: Reactor) async throws -> Int {
        var most = 0
        for _ in 0..<samples {
            most = max(most, ProcessMemory.heapBytesInUse() - baseline)
            try await reactor.sleep(for: .milliseconds(10))
        }
        return most
    }

    /// A peer that floods pings (or SYNs the backlog refuses) and never reads: the session stops
    /// reading it once its replies back up, so the flood only fills the peer's own socket.
    @Test(arguments: ["ping", "syn"])
    func floodFromAPeerThatNeverReadsStaysBounded(kind: String) async throws {
        var configuration = MuxConfiguration()
        configuration.acceptBacklog = 1
        try await withHostilePeer(configuration: configuration) { victim, raw, reactor in
            // 64 KiB of frames per send: pings, or SYNs for new odd stream IDs.
            let perSend = 65_536 / FrameHeader.byteCount
            let sent = Atomic<Int>(0)
            let baseline = ProcessMemory.heapBytesInUse()
            let flooder = Task(executorPreference: reactor) {
                for round in 0..<400 {  // 26 MB of frames
                    let headers = (0..<perSend).map { index -> FrameHeader in
                        let n = round * perSend + index
                        return kind == "ping"
                            ? .ping(opaque: UInt32(n), reply: false)
                            : .windowUpdate(streamID: UInt32(2 * n + 1), flags: .syn, deltaBytes: 0)
                    }
                    try await raw.send(frames(headers))
                    sent.add(1, ordering: .relaxed)
                }
            }
            let paused = try await eventually(on: reactor) {
                await victim.isReadingPaused || sent.load(ordering: .relaxed) == 400
            }
            #expect(paused)
            let growth = try await heapGrowth(over: baseline, on: reactor)
            #expect(await victim.isReadingPaused)
            #expect(sent.load(ordering: .relaxed) < 400, "the whole flood got through")
            #expect(growth < 16 * 1024 * 1024, "the session grew \(growth) bytes")
            flooder.cancel()
        }
    }

    /// After RST, a SYN with the same ID is a protocol error: the handle still held for the old
    /// stream never reads the new one's data.
    @Test func reusedStreamIDIsAProtocolError() async throws {
        try await withHostilePeer { victim, raw, reactor in
            try await raw.send(frames([.windowUpdate(streamID: 1, flags: .syn, deltaBytes: 0)]))
            let old = try await victim.acceptStream()
            try await raw.send(frames([.windowUpdate(streamID: 1, flags: .rst, deltaBytes: 0)]))
            var reopen: [UInt8] = []
            FrameHeader.data(streamID: 1, flags: .syn, payloadBytes: 3).encode(into: &reopen)
            reopen += Array("new".utf8)
            try await raw.send(BufferSlice(copying: reopen))
            await victim.waitUntilFinished()
            #expect(await victim.endReason == MuxError(.streamIDReused, streamID: 1, value: 1))
            let error = await #expect(throws: MuxError.self) { _ = try await old.read() }
            #expect(error?.code == .streamReset)
            // The session told the peer why.
            var received: [UInt8] = []
            while let slice = try await raw.receive() { received += slice.bytes }
            #expect(Array(received.suffix(FrameHeader.byteCount)) == FrameHeader.goAway(.protocolError).encoded())
        }
    }

    /// A session that failed holds no reactor receive buffers for streams nobody accepted: other
    /// sessions on the reactor need them, and nothing can read them any more.
    @Test func aFailedSessionGivesBackTheBuffersOfUnacceptedStreams() async throws {
        try await withHostilePeer { victim, raw, reactor in
            var input: [UInt8] = []
            for index in 0..<8 {
                let streamID = UInt32(2 * index + 1)
                FrameHeader.data(streamID: streamID, flags: .syn, payloadBytes: 32 * 1024).encode(into: &input)
                input += [UInt8](repeating: UInt8(index), count: 32 * 1024)
            }
            try await raw.send(BufferSlice(copying: input))
            #expect(try await eventually(on: reactor) { await victim.bufferedBytes == 8 * 32 * 1024 })
            #expect(await reactor.counters().buffersLent > 0)
            // Version 9: a protocol error that ends the session.
            try await raw.send(BufferSlice(copying: [9] + [UInt8](repeating: 0, count: 11)))
            await victim.waitUntilFinished()
            #expect(await victim.endReason?.code == .unsupportedVersion)
            #expect(try await eventually(on: reactor) { await reactor.counters().buffersLent == 0 })
            #expect(await victim.bufferedBytes == 0)
        }
    }

    /// Streams the peer opens, fills and never finishes, that nobody reads: past
    /// `maxBufferedBytes` new streams are refused and data resets its stream.
    @Test func unreadBytesAcrossStreamsStayWithinTheBudget() async throws {
        var configuration = MuxConfiguration()
        configuration.maxBufferedBytes = 1024 * 1024
        try await withHostilePeer(configuration: configuration) { victim, raw, reactor in
            let chunk = [UInt8](repeating: 7, count: 65_536)
            for index in 0..<10 {
                let streamID = UInt32(2 * index + 1)
                for part in 0..<4 {
                    var bytes: [UInt8] = []
                    FrameHeader.data(streamID: streamID, flags: part == 0 ? .syn : [], payloadBytes: 65_536)
                        .encode(into: &bytes)
                    try await raw.send(BufferSlice(copying: bytes + chunk))
                }
            }
            // The session answers every refused stream with RST; the peer reads those.
            let received = Mutex<[UInt8]>([])
            let reader = Task(executorPreference: reactor) {
                while let slice = try await raw.receive() { received.withLock { $0 += slice.bytes } }
            }
            let refusals = (5..<10).map {
                FrameHeader.windowUpdate(streamID: UInt32(2 * $0 + 1), flags: .rst, deltaBytes: 0)
            }
            let allRefused = try await eventually(on: reactor) {
                let bytes = received.withLock { $0 }
                let headers = stride(from: 0, to: bytes.count - bytes.count % 12, by: 12).compactMap {
                    try? FrameHeader(decoding: Array(bytes[$0..<($0 + 12)]))
                }
                return refusals.allSatisfy(headers.contains)
            }
            #expect(allRefused)
            var accepted: [MuxStream] = []
            for _ in 0..<4 { accepted.append(try await victim.acceptStream()) }
            #expect(await victim.bufferedBytes <= 1024 * 1024)
            #expect(accepted.map(\.id) == [1, 3, 5, 7])
            // What the refused streams sent never reached anyone; the first four read intact.
            for stream in accepted {
                var count = 0
                while count < 4 * 65_536, let slice = try await stream.read() { count += slice.count }
                #expect(count == 4 * 65_536)
            }
            #expect(await victim.bufferedBytes == 0)
            reader.cancel()
        }
    }

    /// A peer that opens streams and resets them before they are accepted leaves nothing behind.
    @Test func streamsResetBeforeAcceptAreForgotten() async throws {
        try await withHostilePeer { victim, raw, reactor in
            var headers: [FrameHeader] = []
            for index in 0..<2_000 {
                let streamID = UInt32(2 * index + 1)
                headers.append(.windowUpdate(streamID: streamID, flags: .syn, deltaBytes: 0))
                headers.append(.windowUpdate(streamID: streamID, flags: .rst, deltaBytes: 0))
            }
            headers.append(.windowUpdate(streamID: 4_001, flags: .syn, deltaBytes: 0))
            try await raw.send(frames(headers))
            let last = try await victim.acceptStream()
            #expect(last.id == 4_001)
            #expect(await victim.streamCount == 1)
        }
    }

    /// A peer that grants credit and never reads: the write in flight stalls, and the session
    /// fails with `writeTimeout` and shuts its socket down; `close()` ends the same way.
    @Test(arguments: [false, true])
    func writesToAPeerThatNeverReadsTimeOut(closing: Bool) async throws {
        var configuration = MuxConfiguration()
        configuration.writeTimeoutNanoseconds = 200_000_000
        configuration.keepAliveIntervalNanoseconds = nil
        try await withHostilePeer(role: .client, configuration: configuration) { victim, raw, reactor in
            let stream = try await victim.openStream()
            try await raw.send(frames([.windowUpdate(streamID: stream.id, flags: .ack, deltaBytes: 64 * 1024 * 1024)]))
            let payload = BufferSlice(copying: [UInt8](repeating: 1, count: 1024 * 1024))
            let writer = Task(executorPreference: reactor) {
                for _ in 0..<64 { try await stream.write(payload) }
            }
            // Wait until a write is in flight; with nobody reading it never completes.
            #expect(try await eventually(on: reactor) { await victim.diagnostics.contains("sending=true") })
            if closing {
                await victim.close()
                #expect(await victim.endReason == MuxError(.sessionClosed))
            } else {
                await victim.waitUntilFinished()
                #expect(await victim.endReason == MuxError(.writeTimeout))
            }
            await #expect(throws: MuxError.self) { try await writer.value }
        }
    }

    /// A slow reader of a long stream holds at most its window and a buffer, however far it lags.
    @Test func slowReaderOfALongStreamHoldsOnlyItsWindow() async throws {
        var configuration = MuxConfiguration()
        configuration.windowAutoTuning = false
        try await withMuxSessionPair(client: configuration, server: configuration) { client, server, reactor in
            let totalBytes = 256 * 1024 * 1024
            let pattern = ByteStreamPattern(seed: 5)
            let block = pattern.slice(from: 0, count: 1024 * 1024)
            let stream = try await client.openStream()
            let writer = Task(executorPreference: reactor) {
                // The same 1 MiB slice every time: the writer itself holds nothing new.
                for _ in 0..<(totalBytes / block.count) { try await stream.write(block) }
                try await stream.closeWrite()
            }
            let accepted = try await server.acceptStream()
            let baseline = ProcessMemory.heapBytesInUse()
            var received = 0
            var most = 0
            var reads = 0
            while let slice = try await accepted.read() {
                var offset = received % block.count
                var start = 0
                while start < slice.count {
                    let count = min(slice.count - start, block.count - offset)
                    #expect(pattern.firstMismatch(in: slice.slice(start..<(start + count)), at: offset) == nil)
                    start += count
                    offset = 0
                }
                received += slice.count
                reads += 1
                // Slower than the writer: the queue never runs dry while the stream lasts.
                try await reactor.sleep(for: .microseconds(20))
                if reads % 64 == 0 { most = max(most, ProcessMemory.heapBytesInUse() - baseline) }
            }
            try await writer.value
            #expect(received == totalBytes)
            #expect(most < 4 * 1024 * 1024, "the reader's side grew \(most) bytes")
        }
    }
}
