/// At most one task parked for the next value of a queue (a receive, an accept), resumed once.
///
/// Shared by ``ReceiveQueue`` and ``AcceptQueue``; reactor thread only.
@safe struct ParkedWaiter<Value: Sendable> {
    private var continuation: UnsafeContinuation<Result<Value, any Error>, Never>?

    var isParked: Bool { unsafe continuation != nil }

    mutating func park(_ continuation: UnsafeContinuation<Result<Value, any Error>, Never>) {
        precondition(!isParked, "a second waiter parked on the same queue")
        unsafe self.continuation = continuation
    }

    /// Resumes the parked task with `result`. Returns false when no task was parked.
    @discardableResult
    mutating func resume(_ result: sending Result<Value, any Error>) -> Bool {
        guard let continuation = unsafe continuation else { return false }
        unsafe self.continuation = nil
        unsafe continuation.resume(returning: result)
        return true
    }
}

/// A queue a task waits on for its next value: ``ReceiveQueue`` and ``AcceptQueue``.
protocol ParkingQueue: AnyObject, Sendable {
    associatedtype Value: Sendable
    /// The reactor the queue belongs to (a cancellation comes back to its thread).
    var reactor: Reactor { get }
    var waiter: ParkedWaiter<Value> { get set }
    /// The operation named in a `concurrentReceive` error.
    var operationName: String { get }
    /// What the queue can hand out without waiting (a value, or its failure); nil to wait.
    func takeReady() throws -> Value?
    /// Asks the kernel for more, if the queue wants more and nothing is in flight.
    func keepFilling()
}

extension ParkingQueue {
    /// The next value: at once if one is ready, otherwise after parking until the loop hands one
    /// over. Reactor thread only. Cancelling the task ends the wait with `CancellationError`;
    /// values that arrive later stay queued.
    ///
    /// Whether to park is decided again inside the continuation, in the same synchronous step as
    /// parking: registering the cancellation handler can suspend the task, and the loop may have
    /// queued a value, ended or failed the queue meanwhile. Parking past a queued value hangs the
    /// reader, or hands it the next completion first — out of order.
    nonisolated(nonsending) func next() async throws -> Value {
        if let ready = try takeReady() { return ready }
        guard !waiter.isParked else { throw ReactorError(.concurrentReceive, operation: operationName) }
        if Task.isCancelled { throw CancellationError() }
        keepFilling()
        let reactor = self.reactor
        let result = await withTaskCancellationHandler {
            unsafe await withUnsafeContinuation { (continuation: UnsafeContinuation<Result<Value, any Error>, Never>) in
                do {
                    if let ready = try takeReady() {
                        unsafe continuation.resume(returning: .success(ready))
                    } else if Task.isCancelled {
                        // The handler may already have run and found no waiter to end.
                        unsafe continuation.resume(returning: .failure(CancellationError()))
                    } else {
                        unsafe waiter.park(continuation)
                    }
                } catch {
                    unsafe continuation.resume(returning: .failure(error))
                }
            }
        } onCancel: {
            reactor.onLoop { self.waiter.resume(.failure(CancellationError())) }
        }
        return try result.get()
    }
}
