import Synchronization
import Testing
import TetherReactor
import TetherTesting

/// Outcomes a send handler was told of.
final class OutcomeLog: Sendable {
    let items = Mutex<[String]>([])
}

/// A send handler that records its outcome outside itself, so a test can also see the handler
/// (and the send that holds it, with its slices) released.
final class RecordingSendHandler: SendHandler {
    let outcome: OutcomeLog
    let done: CheckedContinuation<Void, Never>

    init(outcome: OutcomeLog, done: CheckedContinuation<Void, Never>) {
        self.outcome = outcome
        self.done = done
    }

    func sent(_ result: Result<Void, any Error>) {
        switch result {
        case .success: outcome.items.withLock { $0.append("sent") }
        case .failure(let error):
            outcome.items.withLock { $0.append("\((error as? ReactorError)?.code ?? .invalidArgument)") }
        }
        done.resume()
    }
}

/// A weak reference that can cross into a task.
final class WeakBox<Object: AnyObject>: @unchecked Sendable {
    // Written once on the reactor thread before the test reads it (after an await on the reactor).
    weak var object: Object?
}

extension ReactorSuite {
    /// `StreamSocket.abort()`: a socket whose peer never reads is ended at once.
    @Suite(.timeLimit(.minutes(1))) struct AbortTests {
        /// 8 MiB queued with `startSending` to a peer that never reads: abort tells the handler
        /// `aborted` and releases the send (its handler and slices); the socket's own receive sees
        /// its end; closing afterwards leaks no descriptor and leaves nothing in flight.
        @Test func abortEndsAStuckGatheredSendAndReleasesItsSlices() async throws {
            try await withReactor { reactor in
                // A process-wide count: sound only while no other test runs (`--no-parallel`).
                let descriptors = DescriptorSnapshot()
                let (sender, silentPeer) = try StreamSocket.makePair(on: reactor)
                let pattern = ByteStreamPattern(seed: 31)
                let outcome = OutcomeLog()
                let handlerReference = WeakBox<RecordingSendHandler>()
                await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                    Task(executorPreference: reactor) {
                        let slices = (0..<8).map { pattern.slice(from: $0 * 1_048_576, count: 1_048_576) }
                        let handler = RecordingSendHandler(outcome: outcome, done: done)
                        handlerReference.object = handler
                        do {
                            try sender.startSending(slices, to: handler)
                        } catch {
                            Issue.record("startSending threw \(error)")
                            done.resume()
                            return
                        }
                        // Let the send fill the socket buffers and get stuck.
                        #expect(try await eventually(on: reactor) { await reactor.counters().bytesOut > 0 })
                        try await reactor.sleep(for: .milliseconds(10))
                        #expect(outcome.items.withLock { $0 }.isEmpty, "the send must still be stuck")
                        sender.abort()
                        sender.abort()  // idempotent
                    }
                }
                #expect(outcome.items.withLock { $0 } == ["aborted"])
                // The slot let go of the send: nothing else holds the handler or the slices.
                #expect(await Task(executorPreference: reactor) { handlerReference.object == nil }.value)
                #expect(await reactor.counters().bytesOut < 8 * 1_048_576)
                // The aborted socket's receive side sees its end; new sends are refused.
                #expect(try await sender.receive() == nil)
                let error = await #expect(throws: ReactorError.self) {
                    try await sender.send(BufferSlice(copying: [1]))
                }
                #expect(error?.code == .aborted)
                try await sender.close()
                try await silentPeer.close()
                #expect(await reactor.counters().operationsInFlight == 0)
                #expect(descriptors.added == 0)
            }
        }

        /// An awaited `send()` stuck behind a peer that never reads throws `aborted` when another
        /// task aborts the socket; the peer then reads what was sent and the end of stream.
        @Test(arguments: [Transport.socketpair, .tcp])
        func abortEndsAnAwaitedSend(transport: Transport) async throws {
            try await withReactor { reactor in
                let (sender, peer) = try await transport.connectedPair(on: reactor)
                let pattern = ByteStreamPattern(seed: 32)
                let totalBytes = 32 * 1_048_576
                let sending = Task(executorPreference: reactor) {
                    try await sender.send(pattern.slice(from: 0, count: totalBytes))
                }
                #expect(try await eventually(on: reactor) { await reactor.counters().bytesOut > 0 })
                try await reactor.sleep(for: .milliseconds(10))
                await Task(executorPreference: reactor) { sender.abort() }.value
                let error = await #expect(throws: ReactorError.self) { try await sending.value }
                #expect(error?.code == .aborted)
                var received = 0
                while let slice = try await peer.receive() {
                    #expect(pattern.firstMismatch(in: slice, at: received) == nil)
                    received += slice.count
                }
                #expect(received < totalBytes)
                try await sender.close()
                try await peer.close()
                #expect(await reactor.counters().operationsInFlight == 0)
            }
        }
    }
}
