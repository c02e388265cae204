import Synchronization
import Testing
import TetherMux
import TetherReactor
import TetherTesting

/// Reads a stream to its end, checking every byte against `pattern`.
private func readAll(_ stream: MuxStream, pattern: ByteStreamPattern) async throws -> Int {
    var received = 0
    while let slice = try await stream.read() {
        #expect(pattern.firstMismatch(in: slice, at: received) == nil)
        received += slice.count
    }
    return received
}

/// Echoes a stream back until the peer's FIN, then closes the write side.
private func echo(_ stream: MuxStream) async throws {
    while let slice = try await stream.read() { try await stream.write(slice) }
    try await stream.closeWrite()
}

@Suite(.timeLimit(.minutes(1))) struct MuxSessionTests {
    /// Windows stay at 256 KiB here: with auto-tuned windows a reader that keeps up on average
    /// can still find more unread slices queued than half the reactor's buffers at a moment, and
    /// the session then copies them out (`unreadStreamsDoNotStarveTheSession`), which is right
    /// but not what this test is about.
    @Test(arguments: Transport.allCases)
    func streamEchoesBytesIntactWithoutCopies(transport: Transport) async throws {
        var fixedWindows = MuxConfiguration()
        fixedWindows.windowAutoTuning = false
        try await withMuxSessionPair(over: transport, client: fixedWindows, server: fixedWindows) {
            client, server, reactor in
            let pattern = ByteStreamPattern(seed: 3)
            let totalBytes = 3 * 1024 * 1024 + 5
            let serverSide = Task(executorPreference: reactor) { try await echo(try await server.acceptStream()) }
            let stream = try await client.openStream()
            #expect(stream.id == 1)
            async let received = readAll(stream, pattern: pattern)
            var position = 0
            while position < totalBytes {
                let count = min(100_000, totalBytes - position)
                try await stream.write(pattern.slice(from: position, count: count))
                position += count
            }
            try await stream.closeWrite()
            #expect(try await received == totalBytes)
            try await serverSide.value
            #expect(await client.statistics.bytesCopied == 0)
            #expect(await server.statistics.bytesCopied == 0)
            #expect(await client.statistics.payloadBytesReceived == UInt64(totalBytes))
        }
    }

    @Test func hundredConcurrentStreamsEchoIndependently() async throws {
        try await withMuxSessionPair { client, server, reactor in
            let acceptor = Task(executorPreference: reactor) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<100 {
                        let stream = try await server.acceptStream()
                        group.addTask(executorPreference: reactor) { try await echo(stream) }
                    }
                    try await group.waitForAll()
                }
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<100 {
                    group.addTask(executorPreference: reactor) {
                        let pattern = ByteStreamPattern(seed: UInt64(index))
                        let bytes = 32 * 1024 + index * 997
                        let stream = try await client.openStream()
                        async let received = readAll(stream, pattern: pattern)
                        try await stream.writeAndClose([pattern.slice(from: 0, count: bytes)])
                        #expect(try await received == bytes)
                    }
                }
                try await group.waitForAll()
            }
            try await acceptor.value
            #expect(await client.statistics.streamsOpened == 100)
            #expect(await server.statistics.streamsAccepted == 100)
        }
    }

    @Test func halfCloseInEachDirection() async throws {
        try await withMuxSessionPair { client, server, reactor in
            let stream = try await client.openStream()
            try await stream.write(BufferSlice(copying: [1, 2, 3]))
            try await stream.closeWrite()
            let accepted = try await server.acceptStream()
            var bytes: [UInt8] = []
            while let slice = try await accepted.read() { bytes += slice.bytes }
            #expect(bytes == [1, 2, 3])
            // The server can still write after the client's FIN, and the client still reads.
            try await accepted.write(BufferSlice(copying: [9]))
            try await accepted.closeWrite()
            #expect(try await stream.read()?.bytes == [9])
            #expect(try await stream.read() == nil)
        }
    }

    @Test func resetByThePeerFailsReads() async throws {
        try await withMuxSessionPair { client, server, reactor in
            let stream = try await client.openStream()
            try await stream.write(BufferSlice(copying: [1]))
            let accepted = try await server.acceptStream()
            #expect(try await accepted.read()?.bytes == [1])
            await stream.reset()
            let error = await #expect(throws: MuxError.self) { _ = try await accepted.read() }
            #expect(error?.code == .streamReset)
        }
    }

    @Test func pingMeasuresTheRoundTrip() async throws {
        try await withMuxSessionPair { client, server, _ in
            let rtt = try await client.ping()
            #expect(rtt > .zero)
            #expect(try await server.ping() > .zero)
        }
    }

    @Test func goAwayStopsNewStreamsOnly() async throws {
        try await withMuxSessionPair { client, server, reactor in
            let stream = try await client.openStream()
            let accepted = try await server.acceptStream()
            await server.goAway()
            // The GoAway arrives before the reply: once the echo is back, the client has seen it.
            try await stream.write(BufferSlice(copying: [5]))
            #expect(try await accepted.read()?.bytes == [5])
            try await accepted.write(BufferSlice(copying: [6]))
            #expect(try await stream.read()?.bytes == [6])
            let error = await #expect(throws: MuxError.self) { _ = try await client.openStream() }
            #expect(error?.code == .remoteGoAway)
        }
    }

    /// A reader that reads nothing stops the writer: the receiver never buffers more than the
    /// 256 KiB window, and everything arrives once it reads.
    @Test func unreadStreamBoundsBufferingToTheWindow() async throws {
        try await withMuxSessionPair { client, server, reactor in
            let pattern = ByteStreamPattern(seed: 77)
            let totalBytes = 4 * 1024 * 1024
            let window = UInt64(256 * 1024)
            let stream = try await client.openStream()
            let writer = Task(executorPreference: reactor) {
                try await stream.writeAndClose([pattern.slice(from: 0, count: totalBytes)])
            }
            let accepted = try await server.acceptStream()
            // The writer has used the window and waits for more, and what it sent has arrived.
            let stalled = try await eventually(on: reactor) {
                let sent = await client.statistics
                let received = await server.statistics.payloadBytesReceived
                return sent.windowStalls > 0 && received == sent.payloadBytesSent
            }
            let diagnostics = await client.diagnostics
            #expect(stalled, "the writer never waited for the window: \(diagnostics)")
            #expect(await client.statistics.payloadBytesSent == window)
            #expect(await server.statistics.payloadBytesReceived == window)
            #expect(try await readAll(accepted, pattern: pattern) == totalBytes)
            try await writer.value
        }
    }

    /// When the connection dies, waiting reads and accepts fail with the session's error.
    @Test func sessionDeathFailsEveryWaiter() async throws {
        try await withMuxSessionPair { client, server, reactor in
            let stream = try await client.openStream()
            try await stream.write(BufferSlice(copying: [1]))
            let accepted = try await server.acceptStream()
            _ = try await accepted.read()
            let pendingRead = Task(executorPreference: reactor) { try await stream.read() }
            let pendingAccept = Task(executorPreference: reactor) { try await client.acceptStream() }
            await server.close()
            let readError = await #expect(throws: MuxError.self) { _ = try await pendingRead.value }
            #expect(readError?.code == .connectionClosed)
            let acceptError = await #expect(throws: MuxError.self) { _ = try await pendingAccept.value }
            #expect(acceptError?.code == .connectionClosed)
            await client.waitUntilFinished()
            #expect(await client.endReason?.code == .connectionClosed)
        }
    }

    /// Unread data on many streams must not keep the reactor's receive buffers: with a ring of 8
    /// small buffers and 512 KiB unread on 8 streams, a 9th stream still completes a round trip
    /// (its bytes need free buffers to be received). The unread slices are copied out instead.
    @Test func unreadStreamsDoNotStarveTheSession() async throws {
        var small = ReactorConfiguration()
        small.receiveBufferCount = 8
        small.receiveBufferBytes = 16 * 1024
        try await withMuxSessionPair(reactor: small) { client, server, reactor in
            let pattern = ByteStreamPattern(seed: 5)
            var idle: [MuxStream] = []
            for _ in 0..<8 {
                let stream = try await client.openStream()
                try await stream.write(pattern.slice(from: 0, count: 64 * 1024))
                idle.append(try await server.acceptStream())
            }
            let stream = try await client.openStream()
            try await stream.write(BufferSlice(copying: [42]))
            let accepted = try await server.acceptStream()
            #expect(try await accepted.read()?.bytes == [42])
            try await accepted.write(BufferSlice(copying: [43]))
            #expect(try await stream.read()?.bytes == [43])
            #expect(await server.statistics.bytesCopied > 0)
            // The copied data is intact.
            for unread in idle {
                var received = 0
                while received < 64 * 1024, let slice = try await unread.read() {
                    #expect(pattern.firstMismatch(in: slice, at: received) == nil)
                    received += slice.count
                }
                #expect(received == 64 * 1024)
            }
        }
    }

    /// A peer that sends garbage gets GoAway(protocol error); every waiter on our side — an
    /// accept, a reader, a writer blocked on the window — fails with the specific error.
    @Test func protocolErrorFromThePeerFailsEveryWaiter() async throws {
        try await withReactor { reactor in
            let (mine, raw) = try StreamSocket.makePair(on: reactor)
            let session = try await MuxSession(socket: mine, role: .client)
            let stream = try await session.openStream()
            // The peer never grants more than the initial 256 KiB: this writer ends up waiting.
            let writer = Task(executorPreference: reactor) {
                try await stream.write(BufferSlice(count: 1024 * 1024) { _ in })
            }
            let reader = Task(executorPreference: reactor) { try await stream.read() }
            let acceptor = Task(executorPreference: reactor) { try await session.acceptStream() }
            // Let the writer use up the window, then send a frame with version 1.
            var seen = 0
            while seen < 256 * 1024 + 12, let slice = try await raw.receive() { seen += slice.count }
            try await raw.send(BufferSlice(copying: [1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]))
            let writeError = await #expect(throws: MuxError.self) { try await writer.value }
            #expect(writeError?.code == .unsupportedVersion)
            let readError = await #expect(throws: MuxError.self) { _ = try await reader.value }
            #expect(readError?.code == .unsupportedVersion)
            let acceptError = await #expect(throws: MuxError.self) { _ = try await acceptor.value }
            #expect(acceptError?.code == .unsupportedVersion)
            // The peer is told why: a GoAway with code 1 (protocol error) is the last frame.
            var tail: [UInt8] = []
            while let slice = try await raw.receive() { tail += slice.bytes }
            #expect(Array(tail.suffix(12)) == [0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
            await session.waitUntilFinished()
            try await raw.close()
        }
    }

    /// `close()` ends both directions: the peer reads our data then end of stream, and its
    /// further writes fail once our RST arrives.
    @Test func closeEndsBothDirections() async throws {
        try await withMuxSessionPair { client, server, reactor in
            let stream = try await client.openStream()
            try await stream.write(BufferSlice(copying: [1, 2]))
            let accepted = try await server.acceptStream()
            await stream.close()
            var bytes: [UInt8] = []
            var ended: MuxError?
            do throws(MuxError) {
                while let slice = try await accepted.read() { bytes += slice.bytes }
            } catch {
                ended = error
            }
            #expect(bytes == [1, 2])
            #expect(ended == nil || ended?.code == .streamReset)
            #expect(try await stream.read() == nil)
            // The RST reaches the server: its writes fail (a ping round trip orders it after).
            _ = try await server.ping()
            let error = await #expect(throws: MuxError.self) { try await accepted.write(BufferSlice(copying: [3])) }
            #expect(error?.code == .streamReset || error?.code == .streamClosed)
        }
    }

    /// Ten thousand streams opened and accepted on one session (40 × the ACK backlog).
    @Test func tenThousandStreamsOnOneSession() async throws {
        try await withMuxSessionPair { client, server, reactor in
            let count = 10_000
            let acceptor = Task(executorPreference: reactor) {
                var held: [MuxStream] = []
                while held.count < count { held.append(try await server.acceptStream()) }
                return held.count
            }
            var opened: [MuxStream] = []
            for _ in 0..<count { opened.append(try await client.openStream()) }
            #expect(try await acceptor.value == count)
            #expect(await client.streamCount == count)
            #expect(Set(opened.map(\.id)).count == count)
            // Dropping the handles resets the streams (10,000 RSTs), then both sides close.
            opened.removeAll()
            await client.close()
            // The server notices the end of the connection by itself.
            await server.waitUntilFinished()
            #expect(await server.endReason?.code == .connectionClosed)
        }
    }

    /// A cancelled read throws `cancelled` and the stream keeps its later bytes — cancelled before
    /// it looks, or once parked (on the reactor thread, outside the actor) and woken by the
    /// cancellation.
    @Test(arguments: [false, true])
    func cancelledReadThrowsAndLeavesTheStreamUsable(parkedFirst: Bool) async throws {
        try await withMuxSessionPair { client, server, reactor in
            let stream = try await client.openStream()
            try await stream.write(BufferSlice(copying: [1]))
            let accepted = try await server.acceptStream()
            #expect(try await accepted.read()?.bytes == [1])
            let reader = Task(executorPreference: reactor) { try await accepted.read() }
            if parkedFirst {
                while await server.waitingReaderCount == 0 { await Task.yield() }
            }
            reader.cancel()
            await #expect(throws: MuxError(.cancelled, streamID: accepted.id)) { _ = try await reader.value }
            try await stream.write(BufferSlice(copying: [2]))
            #expect(try await accepted.read()?.bytes == [2])
        }
    }

    /// Dropping the last reference to a stream's handle resets the stream: the peer's read fails
    /// with `streamReset`, and this side forgets the stream. While any reference is left the
    /// stream works both ways.
    @Test func droppingTheLastHandleResetsTheStream() async throws {
        try await withMuxSessionPair { client, server, reactor in
            var first: MuxStream? = try await client.openStream()
            try await first?.write(BufferSlice(copying: [1]))
            let accepted = try await server.acceptStream()
            #expect(try await accepted.read()?.bytes == [1])
            let failure = Mutex<MuxError?>(nil)
            await accepted.onFailure { error in failure.withLock { $0 = error } }
            var second = first
            first = nil
            try await accepted.write(BufferSlice(copying: [2]))
            #expect(try await second?.read()?.bytes == [2])
            try await second?.write(BufferSlice(copying: [3]))
            #expect(try await accepted.read()?.bytes == [3])
            #expect(failure.withLock { $0 } == nil)
            second = nil
            // Required: without an RST the read below would wait until the time limit.
            try #require(try await eventually(on: reactor) { failure.withLock { $0 } != nil }, "no RST arrived")
            #expect(failure.withLock { $0 }?.code == .streamReset)
            await #expect(throws: MuxError(.streamReset, streamID: accepted.id)) { _ = try await accepted.read() }
            #expect(try await eventually(on: reactor) { await client.streamCount == 0 })
        }
    }

    /// Frames that carry no payload — a ping, a SYN — queued while bulk data waits for the
    /// connection go out ahead of that data: a keepalive or a window update never waits behind
    /// a bulk transfer. The peer here is raw bytes that read nothing until both are queued.
    @Test func controlFramesOvertakeQueuedData() async throws {
        try await withReactor { reactor in
            let (mine, raw) = try StreamSocket.makePair(on: reactor)
            let session = try await MuxSession(socket: mine, role: .client)
            let bulk = try await session.openStream()
            // The peer accepts it with credit for far more than the socket holds. It reads
            // nothing yet: a receive on `raw` would keep taking bytes into the reactor's buffers.
            try await raw.send(
                BufferSlice(
                    copying: FrameHeader.windowUpdate(streamID: bulk.id, flags: .ack, deltaBytes: 8 << 20).encoded()))
            #expect(try await eventually(on: reactor) { await session.diagnostics.contains("unacked=0") })
            let bulkBytes = 2 << 20
            // The write returns once the connection has taken its bytes: not before the peer reads.
            let bulkWriter = Task(executorPreference: reactor) {
                try await bulk.write(BufferSlice(count: bulkBytes) { _ in })
            }
            // All of it was taken in one send, which the silent peer keeps from finishing.
            let stuck = try await eventually(on: reactor) {
                let diagnostics = await session.diagnostics
                return diagnostics.contains("sending=true") && diagnostics.contains("outFrames=0")
                    && diagnostics.contains("outData=\(2 << 20) ")
            }
            let stuckDiagnostics = await session.diagnostics
            #expect(stuck, "\(stuckDiagnostics)")
            // Queued behind that send, in this order: a stream's SYN and data, then a ping.
            // (Opening and writing return once the connection took the frames.)
            let otherWriter = Task(executorPreference: reactor) {
                let other = try await session.openStream()
                try await other.write(BufferSlice(copying: [9, 9, 9]))
                return other
            }
            #expect(try await eventually(on: reactor) { await session.diagnostics.contains("outFrames=2 ") })
            let pinger = Task(executorPreference: reactor) { try await session.ping() }
            let queued = try await eventually(on: reactor) { await session.diagnostics.contains("outFrames=3 ") }
            let diagnostics = await session.diagnostics
            #expect(queued, "\(diagnostics)")
            // The peer reads now: the bulk stream's SYN and data, then the frames queued behind it.
            var wire = RawFrames(socket: raw)
            #expect(try await wire.next().header == .windowUpdate(streamID: bulk.id, flags: .syn, deltaBytes: 0))
            var order: [FrameHeader] = []  // what came after the last of the bulk data
            var pings: [UInt32] = []  // every ping request seen (the session probes once at its start)
            var bulkReceived = 0
            let otherID = bulk.id + 2
            while !order.contains(where: { $0.type == .data && $0.streamID == otherID }) {
                let frame = try await wire.next()
                if frame.header.type == .ping { pings.append(frame.header.length) }
                if frame.header.type == .data, frame.header.streamID == bulk.id {
                    bulkReceived += frame.payload.count
                } else if bulkReceived == bulkBytes {
                    order.append(frame.header)
                }
            }
            #expect(bulkReceived == bulkBytes, "\(order)")
            let ping = try #require(
                order.firstIndex { $0.type == .ping }, "the ping waited behind queued data: \(order)")
            let syn = try #require(order.firstIndex { $0.type == .windowUpdate && $0.streamID == otherID })
            let data = try #require(order.firstIndex { $0.type == .data && $0.streamID == otherID })
            #expect(ping < data, "the ping waited behind queued data: \(order)")
            #expect(syn < data, "\(order)")
            for opaque in pings {
                try await raw.send(BufferSlice(copying: FrameHeader.ping(opaque: opaque, reply: true).encoded()))
            }
            #expect(try await pinger.value > .zero)
            try await bulkWriter.value
            #expect(try await otherWriter.value.id == otherID)
            await session.close()
            try await raw.close()
        }
    }

    @Test func readAfterLocalResetIsNotEndOfStream() async throws {
        try await withMuxSessionPair { client, server, _ in
            let stream = try await client.openStream()
            try await stream.write(BufferSlice(copying: [1]))
            _ = try await server.acceptStream()
            await stream.reset()
            await #expect(throws: MuxError(.streamClosed, streamID: stream.id)) { _ = try await stream.read() }
        }
    }

    /// A waiting `openStream()` (every ACK slot taken) ends with `cancelled` when its task is
    /// cancelled; the session goes on. A waiting `acceptStream()` does not: it returns the next
    /// stream, which its cancelled caller then refuses.
    @Test func cancelledOpenThrowsAndCancelledAcceptTakesTheNextStream() async throws {
        var oneSlot = MuxConfiguration()
        oneSlot.maxUnacknowledgedStreams = 1
        try await withMuxSessionPair(client: oneSlot) { client, server, reactor in
            let acceptor = Task(executorPreference: reactor) { try await server.acceptStream() }
            #expect(try await eventually(on: reactor) { await server.diagnostics.contains("acceptWaiters=1") })
            acceptor.cancel()
            let first = try await client.openStream()
            #expect(try await acceptor.value.id == first.id)
            #expect(try await eventually(on: reactor) { await client.diagnostics.contains("unacked=0") })
            // Nobody accepts the second stream, so it keeps the client's only ACK slot.
            _ = try await client.openStream()
            let opener = Task(executorPreference: reactor) { try await client.openStream() }
            #expect(try await eventually(on: reactor) { await client.diagnostics.contains("openWaiters=1") })
            opener.cancel()
            await #expect(throws: MuxError(.cancelled)) { _ = try await opener.value }
            #expect(await client.diagnostics.contains("openWaiters=0"))
        }
    }

    /// The state machine keeps how a stream ended until its record goes: once the handles are
    /// dropped, neither side keeps anything of a thousand streams that ended every way (closed
    /// both ways, reset by either side, closed by the handle).
    @Test func endedStreamsAreForgottenWithTheirHandles() async throws {
        try await withMuxSessionPair { client, server, reactor in
            for index in 0..<1_000 {
                let stream = try await client.openStream()
                try await stream.write(BufferSlice(copying: [UInt8(truncatingIfNeeded: index)]))
                let accepted = try await server.acceptStream()
                #expect(try await accepted.read()?.bytes == [UInt8(truncatingIfNeeded: index)])
                switch index % 4 {
                case 0:
                    try await stream.closeWrite()
                    try await accepted.closeWrite()
                    #expect(try await stream.read() == nil)
                    #expect(try await accepted.read() == nil)
                case 1:
                    await stream.reset()
                    await #expect(throws: MuxError(.streamReset, streamID: accepted.id)) {
                        _ = try await accepted.read()
                    }
                case 2:
                    await accepted.reset()
                    await #expect(throws: MuxError(.streamReset, streamID: stream.id)) { _ = try await stream.read() }
                default:
                    await stream.close()
                    await accepted.close()
                }
            }
            #expect(
                try await eventually(on: reactor) {
                    let counts = [
                        await client.streamCount, await server.streamCount, await client.endedStreamCount,
                        await server.endedStreamCount,
                    ]
                    return counts == [0, 0, 0, 0]
                })
        }
    }
}

/// Frames read from a raw socket: a peer that speaks yamux by hand.
private struct RawFrames {
    let socket: StreamSocket
    private var buffered: [UInt8] = []

    init(socket: StreamSocket) {
        self.socket = socket
    }

    /// The next frame: its header and, for Data, its payload.
    mutating func next() async throws -> (header: FrameHeader, payload: [UInt8]) {
        while true {
            if buffered.count >= 12 {
                let header = try FrameHeader(decoding: Array(buffered[0..<12]))
                let payloadBytes = header.type == .data ? Int(header.length) : 0
                if buffered.count >= 12 + payloadBytes {
                    let payload = Array(buffered[12..<(12 + payloadBytes)])
                    buffered.removeFirst(12 + payloadBytes)
                    return (header, payload)
                }
            }
            guard let slice = try await socket.receive() else { throw MuxError(.connectionClosed) }
            buffered += slice.bytes
        }
    }
}
