import Testing
import TetherReactor
import TetherTesting

extension ReactorSuite {
    @Suite(.timeLimit(.minutes(1))) struct EOFBurstTests {
        /// A burst of small sends followed at once by close: the reader gets every byte, then EOF.
        @Test(arguments: [Transport.socketpair, .unix])
        func burstThenCloseIsSeenAsEndOfStream(transport: Transport) async throws {
            try await withReactor { reactor in
                for round in 0..<100 {
                    let (a, b) = try await transport.connectedPair(on: reactor)
                    let reader = Task(executorPreference: reactor) {
                        var total = 0
                        while let slice = try await b.receive() { total += slice.count }
                        return total
                    }
                    let header = BufferSlice(copying: [UInt8](repeating: UInt8(round & 0xFF), count: 12))
                    for _ in 0..<64 { try await a.send([BufferSlice](repeating: header, count: 140)) }
                    try await a.close()
                    #expect(try await reader.value == 64 * 140 * 12)
                    try await b.close()
                }
            }
        }
    }
}
