import Testing
import TetherReactor
import TetherTesting

extension ReactorSuite {
    @Suite(.timeLimit(.minutes(1))) struct BackpressureTests {
        /// 64 MiB from a fast writer to a reader that stops after every chunk: with 8 small
        /// provided buffers the ring runs dry again and again, and the receive re-arms each time.
        /// Every byte must still arrive once, in order, and the reader never holds more than the
        /// per-handle limit.
        @Test(arguments: [Transport.socketpair, .tcp])
        func slowReaderThroughBufferRingExhaustion(transport: Transport) async throws {
            var configuration = ReactorConfiguration()
            configuration.receiveBufferCount = 8
            configuration.receiveBufferBytes = 16 * 1024
            configuration.maxQueuedBuffersPerHandle = 8  // the whole ring: forces ENOBUFS
            let exhaustions = try await withReactor(configuration: configuration) { reactor in
                let (writer, reader) = try await transport.connectedPair(on: reactor)
                let totalBytes = 64 * 1024 * 1024
                let pattern = ByteStreamPattern(seed: 64)
                let chunk = pattern.slice(from: 0, count: 256 * 1024)
                // The pattern is position-dependent, so send distinct chunks: precompute 4 and cycle
                // by position instead of copying 64 MiB.
                let chunks = (0..<4).map { pattern.slice(from: $0 * chunk.count, count: chunk.count) }
                async let written: Void = {
                    var position = 0
                    while position < totalBytes {
                        try await writer.send(chunks[(position / chunk.count) % 4])
                        position += chunk.count
                    }
                    try await writer.close()
                }()
                var received = 0
                var held: [BufferSlice] = []
                while let slice = try await reader.receive() {
                    let cycle = 4 * chunk.count
                    let expectedStart = received % cycle
                    // Compare against the cycled pattern (wrapping inside a slice is split in two).
                    let firstPart = min(slice.count, cycle - expectedStart)
                    #expect(pattern.firstMismatch(in: slice.slice(0..<firstPart), at: expectedStart) == nil)
                    if firstPart < slice.count {
                        #expect(pattern.firstMismatch(in: slice.slice(firstPart..<slice.count), at: 0) == nil)
                    }
                    received += slice.count
                    // Hold a few buffers at a time, then let go: the slow part of the reader.
                    held.append(slice)
                    if held.count == 6 {
                        try await reactor.sleep(for: .microseconds(200))
                        held.removeAll()
                    }
                }
                try await written
                #expect(received == totalBytes)
                let counters = await reactor.counters()
                try await reader.close()
                return counters.bufferRingExhaustions
            }
            #expect(exhaustions > 0, "the test must actually run the ring dry")
        }
        /// A reader that keeps every provided buffer must not stop the other handles: while the
        /// ring is empty they receive into memory of their own. (Waiting for buffers here
        /// deadlocks a mux session whose writers hold received slices until a window update
        /// arrives on that same socket.)
        @Test(.timeLimit(.minutes(1)))
        func otherHandlesReceiveWhileOneReaderHoldsTheWholeRing() async throws {
            var configuration = ReactorConfiguration()
            configuration.receiveBufferCount = 4
            configuration.receiveBufferBytes = 4 * 1024
            let pattern = ByteStreamPattern(seed: 7)
            let ringBuffers = configuration.receiveBufferCount
            try await withReactor(configuration: configuration) { reactor in
                let (hogWriter, hogReader) = try await Transport.socketpair.connectedPair(on: reactor)
                let (writer, reader) = try await Transport.socketpair.connectedPair(on: reactor)
                let hogBytes = 64 * 1024
                try await hogWriter.send(pattern.slice(from: 0, count: hogBytes))
                try await hogWriter.close()
                var held: [BufferSlice] = []
                var hogReceived = 0
                while held.count < ringBuffers, let slice = try await hogReader.receive() {
                    #expect(slice.holdsReceiveBuffer)
                    #expect(pattern.firstMismatch(in: slice, at: hogReceived) == nil)
                    hogReceived += slice.count
                    held.append(slice)
                }
                #expect(await reactor.counters().buffersLent == ringBuffers)

                let totalBytes = 1024 * 1024
                async let written: Void = {
                    try await writer.send(pattern.slice(from: 0, count: totalBytes))
                    try await writer.close()
                }()
                var received = 0
                var ownMemorySlices = 0
                while let slice = try await reader.receive() {
                    #expect(pattern.firstMismatch(in: slice, at: received) == nil)
                    received += slice.count
                    if !slice.holdsReceiveBuffer { ownMemorySlices += 1 }
                }
                try await written
                #expect(received == totalBytes)
                #expect(ownMemorySlices > 0)
                #expect(await reactor.counters().fallbackReceives > 0)

                // Letting go of the ring: the hog's remaining bytes arrive intact, and no buffer
                // stays lent.
                held.removeAll()
                while let slice = try await hogReader.receive() {
                    #expect(pattern.firstMismatch(in: slice, at: hogReceived) == nil)
                    hogReceived += slice.count
                }
                #expect(hogReceived == hogBytes)
                try await reader.close()
                try await hogReader.close()
                #expect(await reactor.counters().buffersLent == 0)
            }
        }
        /// The same for pipes, the way a host reads many plugins' output: more pipes than ring
        /// buffers, each read while every earlier slice is still held.
        @Test(.timeLimit(.minutes(1)))
        func morePipesThanRingBuffersAllDeliver() async throws {
            var configuration = ReactorConfiguration()
            configuration.receiveBufferCount = 4
            configuration.receiveBufferBytes = 4 * 1024
            let pipeCount = 12
            try await withReactor(configuration: configuration) { reactor in
                var pipes: [(PipeReader, PipeWriter)] = []
                for _ in 0..<pipeCount { pipes.append(try reactor.makePipe()) }
                var held: [BufferSlice] = []
                for (index, (_, writer)) in pipes.enumerated() {
                    try await writer.write(BufferSlice(copying: Array("line \(index)\n".utf8)))
                    try await writer.close()
                }
                for (index, (reader, _)) in pipes.enumerated() {
                    let slice = try await reader.read()
                    #expect(slice?.bytes == Array("line \(index)\n".utf8))
                    if let slice { held.append(slice) }
                    #expect(try await reader.read() == nil)
                    try await reader.close()
                }
                #expect(held.count == pipeCount)
                #expect(await reactor.counters().fallbackReceives > 0)
            }
        }
        /// Many readers, each in its own task, waiting on their pipes while all the writers write
        /// at once: every reader gets its bytes, whole and in order. (A reader used to check its
        /// queue, suspend while registering its cancellation handler, and park past bytes that
        /// arrived meanwhile: a hang, or the next chunk delivered before the queued one.)
        @Test(.timeLimit(.minutes(1)))
        func concurrentReadersNeverParkPastQueuedBytes() async throws {
            let pipeCount = 200
            let chunksPerPipe = 20
            try await withReactor { reactor in
                var pipes: [(PipeReader, PipeWriter)] = []
                for _ in 0..<pipeCount { pipes.append(try reactor.makePipe()) }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (index, (reader, _)) in pipes.enumerated() {
                        group.addTask(executorPreference: reactor) {
                            var received: [UInt8] = []
                            while let slice = try await reader.read() { received += slice.bytes }
                            let expected = (0..<chunksPerPipe).flatMap { Array("pipe \(index) chunk \($0);".utf8) }
                            #expect(received == expected, "pipe \(index)")
                            try await reader.close()
                        }
                    }
                    for (index, (_, writer)) in pipes.enumerated() {
                        group.addTask(executorPreference: reactor) {
                            for chunk in 0..<chunksPerPipe {
                                try await writer.write(
                                    BufferSlice(copying: Array("pipe \(index) chunk \(chunk);".utf8)))
                                await Task.yield()
                            }
                            try await writer.close()
                        }
                    }
                    try await group.waitForAll()
                }
            }
        }
    }
}
