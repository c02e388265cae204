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
