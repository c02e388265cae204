import Testing
import TetherReactor
import TetherTesting

extension ReactorSuite {
    @Suite struct BackpressureTests {
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
    }
}
