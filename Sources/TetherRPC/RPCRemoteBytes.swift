import Synchronization
import TetherMux
import TetherReactor

/// A byte stream arriving on a call's mux stream, not yet iterated.
///
/// Shared by copies of the ``ByteStream`` that wraps it; the first iterator takes the reader.
/// When the last copy and the iterator are gone, the call's stream is released (reset if still
/// open), the caller's deadline timer is cancelled, and a producer sending the other direction
/// of the call is cancelled.
final class RPCRemoteBytes: Sendable {
    private let reader: Mutex<RPCByteReader?>

    /// With no reader: a stream already taken, whose iteration throws `streamConsumed`.
    init(reader: RPCByteReader?) {
        self.reader = Mutex(reader)
    }

    func takeReader() -> RPCByteReader? {
        reader.withLock { reader in
            defer { reader = nil }
            return reader
        }
    }
}

/// The caller's deadline for a call whose result is a byte stream: it covers the whole
/// transfer, so it lives as long as the received stream and is cancelled with it.
final class RPCTransferDeadline: Sendable {
    let expiry: RPCDeadlineTimer
    let timer: ReactorTimer
    let timeout: Duration

    init(expiry: RPCDeadlineTimer, timer: ReactorTimer, timeout: Duration) {
        self.expiry = expiry
        self.timer = timer
        self.timeout = timeout
    }

    deinit {
        timer.cancel()
    }
}

/// Reads the raw bytes of a call's stream to its end (FIN): the bytes that arrived with the last
/// envelope message first, then the mux's slices as they are. A class, owned by the one iterator
/// (and until then by ``RPCRemoteBytes``), so that it is not copied on every step.
final class RPCByteReader: Sendable {
    private struct State {
        /// Bytes read past the last envelope message, delivered before the next read.
        var first: BufferSlice?
        var finished = false
    }

    let stream: MuxStream
    let context: RPCDecodingContext
    /// The caller's deadline (nil on the callee, whose deadline cancels its handler instead).
    private let deadline: RPCTransferDeadline?
    /// Sends the call's other direction (a bidirectional call); cancelled with this reader.
    private let companion: RPCCompanionTask?
    private let state: Mutex<State>

    init(
        stream: MuxStream, first: BufferSlice?, context: RPCDecodingContext, deadline: RPCTransferDeadline? = nil,
        companion: RPCCompanionTask? = nil
    ) {
        self.stream = stream
        self.context = context
        self.deadline = deadline
        self.companion = companion
        self.state = Mutex(State(first: first))
    }

    /// The next slice, never empty, or nil once the sender's FIN was read.
    func next() async throws -> BufferSlice? {
        let step = state.withLock { state -> (finished: Bool, first: BufferSlice?) in
            defer { state.first = nil }
            return (state.finished, state.first)
        }
        if step.finished { return nil }
        if let first = step.first, !first.isEmpty { return first }
        // A read of bytes already delivered does not wait, so the mux would not see the task's
        // cancellation: a reader that keeps up would never stop.
        if Task.isCancelled {
            state.withLock { $0.finished = true }
            stream.resetSoon()
            throw CancellationError()
        }
        while true {
            let slice: BufferSlice?
            do {
                slice = try await stream.read()
            } catch {
                state.withLock { $0.finished = true }
                throw await context.explained(await failure(for: error))
            }
            guard let slice else {
                state.withLock { $0.finished = true }
                // The transfer is complete: its deadline no longer applies.
                deadline?.timer.cancel()
                return nil
            }
            if !slice.isEmpty { return slice }
        }
    }

    /// The error for a failed read: the deadline's, the task's cancellation (which resets the
    /// stream so that the producer stops), the sender's reset, or the connection's loss.
    private func failure(for error: MuxError) async -> any Error {
        if let deadline, deadline.expiry.hasExpired {
            return RPCError(.deadlineExceeded, "the byte stream did not end within \(deadline.timeout)")
        }
        switch error.code {
        case .streamReset:
            return RPCError(
                .streamReset, "the other side reset the byte stream on stream \(stream.id) before its end")
        case .cancelled:
            stream.resetSoon()
            return CancellationError()
        case .streamClosed:
            // Reset on this side: by the bytes this side sends (its producer failed), whose
            // error then explains it, or by this side's cancellation.
            if let sent = await companion?.error(), !(sent is CancellationError) { return sent }
            return RPCError(.cancelled, "the byte stream on stream \(stream.id) was reset here")
        default:
            return RPCError(.connectionLost, "\(error)")
        }
    }
}
