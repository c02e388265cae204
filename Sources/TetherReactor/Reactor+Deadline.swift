extension Reactor {
    /// Runs `body` and gives up on it after `timeout`: for waits a peer controls (a plugin's
    /// start-up, the graceful part of a shutdown).
    ///
    /// `body` runs as a child task that prefers this reactor (an actor-isolated `body` runs on its
    /// actor). The timer is a reactor timeout operation: no thread, no heap timer. When it fires,
    /// `body` is cancelled, and once `body` has ended this throws ``ReactorError/Code/timedOut``
    /// if it threw (`CancellationError` or any other error). A value that `body` still produces
    /// is returned: it may own resources (a connection, a process) that must not be lost. When
    /// `body` ends first, the timer is cancelled and its completion awaited, so no timer is left
    /// in flight when this returns; `body`'s value is returned or its error thrown.
    ///
    /// This returns only after `body` has ended: a `body` that ignores cancellation delays the
    /// return (reactor operations, `receive()`, `sleep(for:)`, `waitForExit()` all end promptly
    /// when cancelled). Cancelling the caller cancels `body` and the timer; the result is then
    /// `body`'s (typically `CancellationError`).
    ///
    /// Cost: one task group with two child tasks and one timer operation.
    ///
    /// - Throws: ``ReactorError/Code/timedOut`` (the detail names `timeout`) when the time ran
    ///   out; ``ReactorError/Code/invalidArgument`` for a negative `timeout` (`body` does not run);
    ///   the timer's own failure (`shutDown`, `tooManyOperations`: `body` is cancelled then, as the
    ///   deadline cannot be kept); otherwise whatever `body` throws.
    public nonisolated(nonsending) func withDeadline<Value: Sendable>(
        _ timeout: Duration, _ body: @escaping @Sendable @isolated(any) () async throws -> Value
    ) async throws -> Value {
        guard timeout >= .zero else {
            throw ReactorError(.invalidArgument, operation: "deadline", detail: "negative timeout \(timeout)")
        }
        let outcome = await withTaskGroup(of: DeadlineEvent<Value>.self, returning: Result<Value, any Error>.self) {
            group in
            group.addTask(executorPreference: self) {
                do {
                    return .finished(.success(try await body()))
                } catch {
                    return .finished(.failure(error))
                }
            }
            group.addTask(executorPreference: self) {
                do {
                    try await self.sleep(for: timeout)
                    return .timerFired
                } catch {
                    return .timerEnded(error)
                }
            }
            // Why `body` is being cancelled, if it is: the time ran out, or the timer failed.
            var cancelledBecause: (any Error)?
            while let event = await group.next() {
                switch event {
                case .finished(let result):
                    // Returning waits for the timer child, whose sleep ends with its completion.
                    group.cancelAll()
                    if let cancelledBecause, case .failure = result { return .failure(cancelledBecause) }
                    return result
                case .timerFired:
                    cancelledBecause = ReactorError(.timedOut, operation: "deadline", detail: "\(timeout) passed")
                    group.cancelAll()
                case .timerEnded(let error):
                    // Cancelled with the caller: `body` is cancelled too, and its result is the answer.
                    if error is CancellationError { continue }
                    cancelledBecause = error
                    group.cancelAll()
                }
            }
            preconditionFailure("the deadline's body ended without a result")
        }
        return try outcome.get()
    }
}

/// What a child task of ``Reactor/withDeadline(_:_:)`` reports to the group.
private enum DeadlineEvent<Value: Sendable>: Sendable {
    /// The body ended.
    case finished(Result<Value, any Error>)
    /// The timeout passed.
    case timerFired
    /// The timer was cancelled, or could not run.
    case timerEnded(any Error)
}
