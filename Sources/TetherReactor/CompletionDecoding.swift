import CLibUring

// The one reading of a CQE: every operation kind has one decoder here that turns the result and
// flags into a typed `Result`, and every negative result that is not a value of that kind goes
// through `CompletionFailure.init(errno:operation:context:)`. Nothing else in the reactor looks
// at an errno from a completion.
//
// | errno | read as |
// |---|---|
// | `EINTR`, `EAGAIN` | `.retry`: the kernel did nothing; an awaited operation is submitted again, a queue arms again (after `EAGAIN` on a read or write, once a poll says the descriptor is ready) |
// | `ECANCELED` | `.cancelled` (a task's or a queue's cancel request, a removed timer); `shutDown` while the reactor stops |
// | `EBADF` on a closed handle | `closed`: the handle's close overtook an operation prepared before it |
// | `EBADF` otherwise, `EFAULT` | trap: the reactor handed the kernel a descriptor or pointer it does not own, a bug |
// | anything else | `system` with the errno and the operation's name |
//
// Some errnos are values of one kind, not failures, and only its decoder reads them: `ETIME` of a
// timeout (it fired), `ENOBUFS` of a receive (the provided-buffer ring is empty),
// `ECONNABORTED` of an accept (a retry: the connection went before it was taken) and
// `EMFILE`/`ENFILE`/`ENOBUFS`/`ENOMEM` of an accept (out of descriptors or memory).

/// What a completion is read against: state of the reactor and of the handle that the CQE does
/// not carry.
struct CompletionContext {
    /// The reactor is shutting down: a cancellation is the shutdown's.
    var shuttingDown: Bool
    /// The handle whose descriptor the operation used has been closed.
    var handleClosed = false
}

/// Why an operation produced no value: the reading of a negative result shared by every kind.
enum CompletionFailure: Error, Equatable {
    /// `EINTR`, `EAGAIN`: nothing happened; submit the operation again.
    case retry
    /// `ECANCELED` outside a shutdown: someone asked for the operation to end.
    case cancelled
    /// The operation failed: `shutDown`, `closed`, or `system` with the errno.
    case failed(ReactorError)

    /// The failure that `errno` (positive) means for `operation`.
    init(errno: Int32, operation: String, context: CompletionContext) {
        switch errno {
        case EINTR, EAGAIN:
            self = .retry
        case ECANCELED:
            self = context.shuttingDown ? .failed(ReactorError(.shutDown, operation: operation)) : .cancelled
        case EBADF where context.handleClosed:
            self = .failed(ReactorError(.closed, operation: operation, detail: "the descriptor was closed"))
        case EBADF, EFAULT:
            preconditionFailure("\(operation): kernel reported errno \(errno) — invalid fd or pointer")
        default:
            self = .failed(ReactorError.system(operation, errno))
        }
    }

    /// What an awaiting task throws: `CancellationError` for a cancellation, the reactor error
    /// for a failure. A retry is never thrown (its caller submits again).
    var error: any Error {
        switch self {
        case .retry: preconditionFailure("a retry is submitted again, not thrown")
        case .cancelled: CancellationError()
        case .failed(let error): error
        }
    }
}

/// What a receive (multishot recv, buffer-selecting read, receive into own memory) delivered.
enum Received: Equatable {
    /// `count` bytes, in provided buffer `bufferID`, or in the operation's own memory if nil.
    case bytes(count: Int, bufferID: UInt16?)
    /// The peer closed its side (a result of 0).
    case endOfStream
    /// `ENOBUFS`: the provided-buffer ring is empty and nothing was consumed from the descriptor.
    case bufferRingEmpty
}

/// What a multishot accept delivered.
enum Accepted: Equatable {
    /// A new connection's descriptor, owned by whoever takes it.
    case connection(Int32)
    /// `EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`: the connection waits in the backlog until
    /// descriptors or memory are free again.
    case outOfResources(errno: Int32)
}

extension Completion {
    /// The errno of a negative result.
    private var errnoValue: Int32 { -result }

    /// The shared reading of this negative result.
    private func failure(_ operation: String, _ context: CompletionContext) -> CompletionFailure {
        CompletionFailure(errno: errnoValue, operation: operation, context: context)
    }

    /// A kind whose every non-negative result is a value, made by `value`.
    private func decodeNonNegative<Value>(
        _ operation: String, _ context: CompletionContext, _ value: (Int32) -> Value
    ) -> Result<Value, CompletionFailure> {
        result >= 0 ? .success(value(result)) : .failure(failure(operation, context))
    }

    /// A receive: bytes, end of stream, or an empty buffer ring.
    func decodeReceive(_ operation: String, _ context: CompletionContext) -> Result<Received, CompletionFailure> {
        if result > 0 { return .success(.bytes(count: Int(result), bufferID: bufferID)) }
        if result == 0 { return .success(.endOfStream) }
        // A receive into own memory reads ENOBUFS the same way: nothing was consumed, and the
        // queue reads into own memory again.
        if errnoValue == ENOBUFS { return .success(.bufferRingEmpty) }
        return .failure(failure(operation, context))
    }

    /// A `sendmsg` or `writev`: the number of bytes the kernel took.
    func decodeSend(_ operation: String, _ context: CompletionContext) -> Result<Int, CompletionFailure> {
        decodeNonNegative(operation, context) { Int($0) }
    }

    /// A multishot accept: a connection, or the process out of descriptors or memory.
    /// `ECONNABORTED` (the peer gave up before the accept) is a retry.
    func decodeAccept(_ operation: String, _ context: CompletionContext) -> Result<Accepted, CompletionFailure> {
        if result >= 0 { return .success(.connection(result)) }
        switch errnoValue {
        case EMFILE, ENFILE, ENOBUFS, ENOMEM: return .success(.outOfResources(errno: errnoValue))
        case ECONNABORTED: return .failure(.retry)
        default: return .failure(failure(operation, context))
        }
    }

    /// A relative timeout: `ETIME` is its firing, the success.
    func decodeTimeout(_ operation: String, _ context: CompletionContext) -> Result<Void, CompletionFailure> {
        if result >= 0 || errnoValue == ETIME { return .success(()) }
        return .failure(failure(operation, context))
    }

    /// An operation whose success carries nothing: `connect`, `close`.
    func decodeDone(_ operation: String, _ context: CompletionContext) -> Result<Void, CompletionFailure> {
        decodeNonNegative(operation, context) { _ in () }
    }

    /// A one-shot poll: the events that are ready.
    func decodePoll(_ operation: String, _ context: CompletionContext) -> Result<Int16, CompletionFailure> {
        decodeNonNegative(operation, context) { Int16(truncatingIfNeeded: $0) }
    }

    /// A `waitid` on a pidfd: the exit status the reactor copied out of the siginfo.
    func decodeExit(_ operation: String, _ context: CompletionContext) -> Result<ExitStatus, CompletionFailure> {
        if result >= 0 {
            guard let exit else { preconditionFailure("\(operation) completed without siginfo") }
            return .success(exit)
        }
        return .failure(failure(operation, context))
    }
}
