import Synchronization
import Testing
import TetherTesting

@testable import TetherRPC

private struct Broken: Error, Equatable {}

/// Iterating a locally produced stream (no RPC): elements in order, the producer's failure after
/// them, and a producer that cannot run ahead of its consumer.
@Suite(.timeLimit(.minutes(1))) struct RPCStreamTests {
    @Test func localStreamYieldsItsElementsInOrder() async throws {
        var received: [Int] = []
        for try await value in RPCStream(elements: Array(0..<100)) { received.append(value) }
        #expect(received == Array(0..<100))
    }

    @Test func producerFailureComesAfterTheElementsItSent() async throws {
        let stream = RPCStream<Int> { writer in
            try await writer.yield(1)
            try await writer.yield(2)
            throw Broken()
        }
        var iterator = stream.makeAsyncIterator()
        #expect(try await iterator.next() == 1)
        #expect(try await iterator.next() == 2)
        await #expect(throws: Broken.self) { _ = try await iterator.next() }
        #expect(try await iterator.next() == nil)
    }

    /// Each yield returns only once its element was taken. After the consumer took `n`, the
    /// producer is seen at its yield of `n + 1` (it has started it) with only `n + 1` yields
    /// returned: it is blocked there, not merely not run yet.
    @Test func producerWaitsForTheConsumer() async throws {
        let started = Atomic<Int>(0)
        let yielded = Atomic<Int>(0)
        let stream = RPCStream<Int> { writer in
            for value in 0..<1_000 {
                started.add(1, ordering: .sequentiallyConsistent)
                try await writer.yield(value)
                yielded.add(1, ordering: .sequentiallyConsistent)
            }
        }
        var iterator = stream.makeAsyncIterator()
        for expected in 0..<10 {
            #expect(try await iterator.next() == expected)
            let atNextYield = try await eventually { started.load(ordering: .sequentiallyConsistent) >= expected + 2 }
            try #require(atNextYield, "the producer reached its next yield")
            #expect(yielded.load(ordering: .sequentiallyConsistent) == expected + 1)
            #expect(started.load(ordering: .sequentiallyConsistent) == expected + 2)
        }
    }
}
