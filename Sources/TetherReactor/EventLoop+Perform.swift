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

    /// ``perform(_:setUp:)`` until the result is not a retry, read by `decode`, the decoder of the
    /// operation's kind (``Completion/decodeSend(_:_:)``, …).
    ///
    /// - Parameter handle: the handle whose descriptor the operation uses, if its close may
    ///   overtake the operation (an `EBADF` then reads as `closed`; see ``CompletionFailure``).
    /// - Throws: `CancellationError` when cancelled, the operation's ``ReactorError`` otherwise.
    nonisolated(nonsending) func run<Value>(
        _ operation: Operation, handle: HandleCore? = nil,
        decode: (Completion, String, CompletionContext) -> Result<Value, CompletionFailure>,
        setUp: (Int) -> Void = { _ in }
    ) async throws -> Value {
        while true {
            let completion = try await perform(operation, setUp: setUp)
            let context = CompletionContext(shuttingDown: stopping, handleClosed: handle?.isClosed ?? false)
            switch decode(completion, operation.name, context) {
            case .success(let value): return value
            case .failure(.retry):
                // EAGAIN from a descriptor with O_NONBLOCK: wait until it can make progress. The
                // handle may be closed meanwhile, and its fd number reused by another file: the
                // operation is not submitted again then.
                if completion.result == -EAGAIN, let poll = operation.readinessPoll {
                    try Self.checkOpen(handle, operation)
                    _ = try await run(
                        poll, handle: handle,
                        decode: { completion, _, context in
                            completion.decodePoll(operation.name, context)
                        })
                    try Self.checkOpen(handle, operation)
                }
            case .failure(let failure): throw failure.error
            }
        }
    }
}

extension EventLoop {
    /// Throws `closed` when `handle` was closed: its fd number may name another file by now.
    fileprivate static func checkOpen(_ handle: HandleCore?, _ operation: Operation) throws(ReactorError) {
        guard let handle, handle.isClosed else { return }
        throw ReactorError(.closed, operation: operation.name, detail: "\(handle.kind) fd \(handle.fd) is closed")
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
