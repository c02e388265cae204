import Synchronization
import Testing
import TetherReactor
import TetherTesting

extension ReactorSuite {
    @Suite(.timeLimit(.minutes(1))) struct TimerAndCancellationTests {
        /// Timers started together fire in the order of their deadlines; cancelled ones never fire.
        /// The cancelled ones are cancelled once every timer is in the kernel, so it is the
        /// kernel's removal of the timer (a `-ECANCELED` completion) that ends their sleep; their
        /// deadlines are far enough out that they cannot fire first.
        @Test func timersFireInOrderAndCancelledOnesDoNot() async throws {
            try await withReactor { reactor in
                let fired = FiredTimers()
                let delaysMilliseconds = [40, 10, 3_000, 20, 5_000, 5]
                let cancelled: Set<Int> = [3_000, 5_000]
                var tasks: [Int: Task<Void, any Error>] = [:]
                for delay in delaysMilliseconds {
                    tasks[delay] = Task(executorPreference: reactor) {
                        try await reactor.sleep(for: .milliseconds(delay))
                        fired.order.withLock { $0.append(delay) }
                    }
                }
                // Every timer is in the kernel or has fired (the short ones may be done already).
                let submitted = try await eventually {
                    let inFlight = await reactor.counters().operationsInFlight
                    return inFlight + fired.order.withLock { $0.count } == delaysMilliseconds.count
                }
                #expect(submitted)
                for delay in cancelled { tasks[delay]?.cancel() }
                for (delay, task) in tasks {
                    let result = await task.result
                    if cancelled.contains(delay) {
                        #expect(throws: CancellationError.self) { try result.get() }
                    } else {
                        #expect(throws: Never.self) { try result.get() }
                    }
                }
                #expect(fired.order.withLock { $0 } == [5, 10, 20, 40])
                #expect(await reactor.counters().operationsInFlight == 0)
            }
        }

        /// A receive waiting for data (its `recv` in the kernel) is ended by cancelling its task;
        /// data sent afterwards is delivered to the next receive, not lost.
        @Test func pendingReceiveIsCancelledByTaskCancellation() async throws {
            try await withReactor { reactor in
                let (a, b) = try StreamSocket.makePair(on: reactor)
                let waiting = Task(executorPreference: reactor) { try await b.receive() }
                try await untilInFlight(1, on: reactor)
                waiting.cancel()
                await #expect(throws: CancellationError.self) { _ = try await waiting.value }
                try await a.send(BufferSlice(copying: [42]))
                #expect(try await b.receive()?.bytes == [42])
                try await a.close()
                try await b.close()
            }
        }

        /// Cancelling a task whose send is blocked (peer not reading) ends the send with a
        /// cancellation once the kernel has confirmed it.
        @Test func blockedSendIsCancelledByTaskCancellation() async throws {
            try await withReactor { reactor in
                let (a, b) = try StreamSocket.makePair(on: reactor)
                let big = BufferSlice(count: 32 * 1024 * 1024) { _ in }
                let sending = Task(executorPreference: reactor) { try await a.send(big) }
                // The send is in the kernel and has filled the socket: it is blocked there.
                #expect(
                    try await eventually {
                        let counters = await reactor.counters()
                        return counters.operationsInFlight == 1 && counters.bytesOut > 0
                    })
                sending.cancel()
                await #expect(throws: CancellationError.self) { try await sending.value }
                #expect(await reactor.counters().operationsInFlight == 0)
                try await a.close()
                try await b.close()
            }
        }

        /// A second receive while one waits is refused with a specific error.
        @Test func concurrentReceiveIsRefused() async throws {
            try await withReactor { reactor in
                let (a, b) = try StreamSocket.makePair(on: reactor)
                let first = Task(executorPreference: reactor) { try await b.receive() }
                try await untilInFlight(1, on: reactor)
                let error = await #expect(throws: ReactorError.self) { _ = try await b.receive() }
                #expect(error?.code == .concurrentReceive)
                try await a.send(BufferSlice(copying: [7]))
                #expect(try await first.value?.bytes == [7])
                try await a.close()
                try await b.close()
            }
        }

        @Test func negativeSleepIsInvalid() async throws {
            try await withReactor { reactor in
                let error = await #expect(throws: ReactorError.self) { try await reactor.sleep(for: .seconds(-1)) }
                #expect(error?.code == .invalidArgument)
            }
        }

        /// A sleep longer than `UInt64` nanoseconds waits "forever" until cancelled (it trapped on
        /// the overflow of seconds × 10⁹ before): the kernel takes the timer, and removes it when
        /// the task is cancelled.
        @Test func practicallyEndlessSleepWaitsUntilCancelled() async throws {
            try await withReactor { reactor in
                let sleeper = Task(executorPreference: reactor) { try await reactor.sleep(for: .seconds(Int64.max)) }
                try await untilInFlight(1, on: reactor)
                sleeper.cancel()
                await #expect(throws: CancellationError.self) { try await sleeper.value }
                #expect(await reactor.counters().operationsInFlight == 0)
            }
        }

        @Test func durationsClampToWholeNanoseconds() {
            #expect(Duration.nanoseconds(1_500).clampedNanoseconds == 1_500)
            #expect((Duration.seconds(2) + .nanoseconds(7)).clampedNanoseconds == 2_000_000_007)
            #expect(Duration.seconds(-1).clampedNanoseconds == 0)
            #expect(Duration.seconds(Int64.max).clampedNanoseconds == UInt64.max)
            #expect(Duration.seconds(18_446_744_073).clampedNanoseconds == 18_446_744_073_000_000_000)
            #expect((Duration.seconds(18_446_744_073) + .nanoseconds(709_551_616)).clampedNanoseconds == UInt64.max)
        }
    }
}

/// Waits until `count` operations are in flight on `reactor` (submitted, not completed), looking
/// between `Task.sleep`s: a reactor sleep would be one more.
private func untilInFlight(_ count: Int, on reactor: Reactor) async throws {
    let reached = try await eventually { await reactor.counters().operationsInFlight == count }
    let counters = await reactor.counters()
    #expect(reached, "waiting for \(count) operations in flight: \(counters)")
}

private final class FiredTimers: Sendable {
    let order = Mutex<[Int]>([])
}
