import Synchronization
import Testing
import TetherReactor
import TetherTesting

/// How a deadline's body ended, seen from inside it.
final class BodyLog: Sendable {
    let endings = Mutex<[String]>([])
    func record(_ ending: String) { endings.withLock { $0.append(ending) } }
    var all: [String] { endings.withLock { $0 } }
}

private struct BodyGaveUp: Error {}

extension ReactorSuite {
    @Suite(.timeLimit(.minutes(1))) struct DeadlineTests {
        /// A body that finishes in time returns its value, and the timer is gone at once.
        @Test func aBodyThatFinishesInTimeReturnsItsValueAndLeavesNoTimer() async throws {
            try await withReactor { reactor in
                let value = try await reactor.withDeadline(.seconds(30)) {
                    try await reactor.sleep(for: .milliseconds(1))
                    return 42
                }
                #expect(value == 42)
                #expect(await reactor.counters().operationsInFlight == 0)
                // A body's own error comes through unchanged.
                await #expect(throws: BodyGaveUp.self) {
                    try await reactor.withDeadline(.seconds(30)) { () async throws -> Int in throw BodyGaveUp() }
                }
                #expect(await reactor.counters().operationsInFlight == 0)
            }
        }

        /// A body stuck in a receive that never gets data is cancelled when the time runs out;
        /// the caller gets `timedOut` whether the body rethrows the cancellation or turns it into
        /// an error of its own.
        @Test(arguments: [false, true])
        func aStuckBodyIsCancelledAndTheCallerGetsTimedOut(bodyRewrapsTheError: Bool) async throws {
            try await withReactor { reactor in
                let (a, b) = try StreamSocket.makePair(on: reactor)
                let log = BodyLog()
                let error = await #expect(throws: ReactorError.self) {
                    _ = try await reactor.withDeadline(.milliseconds(20)) {
                        do {
                            let slice = try await b.receive()
                            log.record("received \(slice?.count ?? -1)")
                            return slice?.count ?? 0
                        } catch is CancellationError {
                            log.record("cancelled")
                            if bodyRewrapsTheError { throw BodyGaveUp() }
                            throw CancellationError()
                        }
                    }
                }
                #expect(error?.code == .timedOut)
                #expect(error?.description.contains("0.02 seconds") == true, "\(String(describing: error))")
                #expect(log.all == ["cancelled"])
                try await a.close()
                try await b.close()
                #expect(await reactor.counters().operationsInFlight == 0)
            }
        }

        /// A body that ignores the cancellation and produces its value after the time ran out:
        /// the caller gets that value, not `timedOut` (the work was done; dropping its result
        /// would lose it, e.g. a connection the body made).
        @Test func aValueProducedAfterTheTimeRanOutIsReturned() async throws {
            try await withReactor { reactor in
                let value = try await reactor.withDeadline(.milliseconds(10)) {
                    // A wait that cancellation does not end: the value comes only once the body
                    // has been cancelled, that is, after the time ran out.
                    let answer = Mutex<CheckedContinuation<Int, Never>?>(nil)
                    return await withTaskCancellationHandler {
                        await withCheckedContinuation { (continuation: CheckedContinuation<Int, Never>) in
                            let cancelled = answer.withLock { slot -> Bool in
                                if Task.isCancelled { return true }
                                slot = continuation
                                return false
                            }
                            if cancelled { continuation.resume(returning: 42) }
                        }
                    } onCancel: {
                        answer.withLock { slot in
                            slot?.resume(returning: 42)
                            slot = nil
                        }
                    }
                }
                #expect(value == 42)
                #expect(await reactor.counters().operationsInFlight == 0)
            }
        }

        /// Cancelling the caller cancels the body (and the timer): the caller gets the body's
        /// `CancellationError`, not `timedOut`.
        @Test func cancellingTheCallerCancelsTheBody() async throws {
            try await withReactor { reactor in
                let (a, b) = try StreamSocket.makePair(on: reactor)
                let log = BodyLog()
                let caller = Task(executorPreference: reactor) {
                    try await reactor.withDeadline(.seconds(60)) {
                        do {
                            return try await b.receive()?.count ?? 0
                        } catch {
                            log.record("\(type(of: error))")
                            throw error
                        }
                    }
                }
                // Wait until both the receive and the timer are in the kernel.
                #expect(try await eventually(on: reactor) { await reactor.counters().operationsInFlight >= 2 })
                caller.cancel()
                await #expect(throws: CancellationError.self) { _ = try await caller.value }
                #expect(log.all == ["CancellationError"])
                try await a.close()
                try await b.close()
                #expect(await reactor.counters().operationsInFlight == 0)
            }
        }

        @Test func aNegativeTimeoutIsInvalidAndTheBodyDoesNotRun() async throws {
            try await withReactor { reactor in
                let log = BodyLog()
                let error = await #expect(throws: ReactorError.self) {
                    try await reactor.withDeadline(.seconds(-1)) { log.record("ran") }
                }
                #expect(error?.code == .invalidArgument)
                #expect(log.all.isEmpty)
            }
        }
    }
}
