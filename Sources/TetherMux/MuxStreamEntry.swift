import TetherReactor

/// The session's record of one stream: delivered payload not yet read, and who waits for what.
/// Lives inside the ``MuxSession`` actor.
///
/// A class, not a struct: mutating a large struct in place through the dictionary's `_modify`
/// accessor allocated the accessor's coroutine frame on the heap — about 30 `malloc`s per
/// stream's life (measured with a `malloc` uprobe on `bench churn`) — and copied its arrays.
final class MuxStreamEntry {
    var received: [BufferSlice] = []
    var receivedReadIndex = 0
    /// The peer sent FIN: after the queued bytes, reads return end of stream.
    var finished = false
    /// Why the stream can no longer be used (reset by the peer, session failure), if it can't.
    var failure: MuxError?
    /// Both halves are closed in the state machine.
    var closed = false
    var reader: CheckedContinuation<Void, Never>?
    var writers: [CheckedContinuation<Void, Never>] = []
    /// Told once when the stream fails (see `MuxStream.onFailure`).
    var failureHandler: (@Sendable (MuxError) -> Void)?

    var hasQueuedData: Bool { receivedReadIndex < received.count }

    /// Unread slices that hold a reactor receive buffer.
    var pinnedCount: Int { received[receivedReadIndex...].reduce(0) { $0 + ($1.holdsReceiveBuffer ? 1 : 0) } }

    func popReceived() -> BufferSlice? {
        guard receivedReadIndex < received.count else { return nil }
        let slice = received[receivedReadIndex]
        receivedReadIndex += 1
        if receivedReadIndex == received.count {
            received.removeAll(keepingCapacity: true)
            receivedReadIndex = 0
        }
        return slice
    }

    func wakeAll() {
        reader?.resume()
        reader = nil
        for writer in writers { writer.resume() }
        writers.removeAll()
        if let failure, let handler = failureHandler {
            failureHandler = nil
            handler(failure)
        }
    }
}

/// What a stream's reader finds when it looks (see `MuxSession.readStep`).
enum ReadStep: Sendable {
    case slice(BufferSlice)
    case end
    case wait
}
