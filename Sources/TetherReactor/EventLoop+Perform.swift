import Glibc

extension EventLoop {
    /// Submits `operation` and suspends the calling task until its completion.
    ///
    /// Must run on the reactor thread, which it does not leave: the continuation is resumed by
    /// ``dispatch`` on this thread, so a task that prefers the reactor continues here. Cancelling
    /// the task asks the kernel to cancel the operation; the task still resumes only when the
    /// kernel's completion arrives, so memory the operation uses stays valid until then.
    ///
    /// - Parameter setUp: writes the slot's scratch (address, iovecs) before the SQE is prepared.
    /// - Throws: `CancellationError` if the task was cancelled before submission,
    ///   ``ReactorError/Code/tooManyOperations`` when every slot is in use.
    nonisolated(nonsending) func perform(
        _ operation: Operation, setUp: (Int) -> Void = { _ in }
    ) async throws -> Completion {
        unsafe precondition(reactor.isCurrentThread, "operation started off the reactor thread")
        if stopping { return .failed(ECANCELED) }
        guard let userData = table.reserve(operation), let index = table.index(of: userData) else {
            throw ReactorError(
                .tooManyOperations, operation: operation.name,
                detail: "\(configuration.maxInFlightOperations) operations in flight")
        }
        if Task.isCancelled {
            table.release(index)
            throw CancellationError()
        }
        setUp(index)
        let reactor = unsafe self.reactor
        return await withTaskCancellationHandler {
            unsafe await withUnsafeContinuation { continuation in
                if Task.isCancelled {
                    // Registering the handler can be a suspension point, so the task may have been
                    // cancelled since the check above with the handler finding nothing to cancel.
                    table.release(index)
                    unsafe continuation.resume(returning: .failed(ECANCELED))
                } else {
                    unsafe submit(userData, target: .continuation(continuation))
                }
            }
        } onCancel: {
            reactor.requestCancel(userData)
        }
    }

    /// ``perform(_:setUp:)`` until the result is not a retry, mapped to a value or a typed error.
    nonisolated(nonsending) func run(_ operation: Operation, setUp: (Int) -> Void = { _ in }) async throws -> Completion
    {
        while true {
            let completion = try await perform(operation, setUp: setUp)
            if try completion.value(for: operation, shuttingDown: stopping) != nil { return completion }
        }
    }
}

extension Reactor {
    /// Runs `body` on this reactor's thread with the loop state, hopping there first if the caller
    /// is elsewhere (one hop there and one back; none if already on the reactor).
    nonisolated(nonsending) func withLoop<Result: Sendable>(
        _ body: nonisolated(nonsending) (EventLoop) async throws -> Result
    ) async throws -> Result {
        if isCurrentThread, let loop = loop, !loop.exited {
            return try await body(loop)
        }
        guard !hasStopped else { throw ReactorError(.shutDown, operation: "hop to reactor") }
        return try await withTaskExecutorPreference(self) {
            try await hopped(body)
        }
    }

    /// A concurrent (not caller-isolated) function: it runs on the task's preferred executor, which
    /// `withLoop` just set to this reactor.
    @concurrent private func hopped<Result: Sendable>(
        _ body: nonisolated(nonsending) (EventLoop) async throws -> Result
    ) async throws -> Result {
        guard let loop = loop, !loop.exited else { throw ReactorError(.shutDown, operation: "hop to reactor") }
        precondition(isCurrentThread, "task executor preference did not move the task to the reactor")
        return try await body(loop)
    }
}
