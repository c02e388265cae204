import TetherReactor

/// Thrown by ``withDeadline(_:on:_:)`` when the time ran out before the work finished.
struct DeadlinePassed: Error {}

/// Runs `body` with a time limit measured by `reactor` (a kernel timer, no thread).
///
/// When `duration` passes first, `body` is cancelled and, once it has returned, this throws
/// ``DeadlinePassed`` — unless `body` still produced its value, which is then returned so that
/// nothing it made is lost. Cancelling the caller cancels `body` (its result or error is what
/// comes back). Either way the timer is removed from the kernel before this returns.
///
/// `body` must end soon after it is cancelled (reactor operations do: a read, a connect, a
/// sleep); work that ignores cancellation is run in a task of its own and waited for here
/// through something that does not (``Latch/waitUnlessCancelled()``).
///
/// The one place Tether bounds a wait; it has the shape of the reactor's `withDeadline`, to be
/// swapped for it.
func withDeadline<Value: Sendable>(
    _ duration: Duration, on reactor: Reactor, _ body: @escaping @Sendable () async throws -> Value
) async throws -> Value {
    return try await withThrowingTaskGroup(of: DeadlineOutcome<Value>.self) { group in
        group.addTask(executorPreference: reactor) {
            do {
                return .finished(.success(try await body()))
            } catch {
                return .finished(.failure(error))
            }
        }
        group.addTask(executorPreference: reactor) {
            do {
                try await reactor.sleep(for: duration)
                return .deadlinePassed
            } catch {
                // Cancelled: the body finished first, or the caller was cancelled. Otherwise the
                // reactor stopped and can time nothing more: the wait ends as if the time were up.
                return Task.isCancelled ? .timerStopped : .deadlinePassed
            }
        }
        var passed = false
        while let outcome = try await group.next() {
            switch outcome {
            case .finished(let result):
                group.cancelAll()  // the timer, if it still runs
                if passed, case .failure = result { throw DeadlinePassed() }
                return try result.get()
            case .deadlinePassed:
                passed = true
                group.cancelAll()
            case .timerStopped:
                continue
            }
        }
        preconditionFailure("the body's task ended without an outcome")
    }
}

/// How each of the two children racing in ``withDeadline(_:on:_:)`` ended.
private enum DeadlineOutcome<Value: Sendable>: Sendable {
    case finished(Result<Value, any Error>)
    case deadlinePassed
    case timerStopped
}
