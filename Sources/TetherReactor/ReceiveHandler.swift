/// Takes a socket's received bytes as they complete, instead of a task calling
/// ``StreamSocket/receive()`` (see ``StreamSocket/startReceiving(_:)``).
///
/// For a consumer that processes every chunk synchronously anyway (a protocol parser): each
/// chunk costs a call from the loop, where a receiving task costs a job to resume it.
package protocol ReceiveHandler: AnyObject, Sendable {
    /// Called on the reactor thread, outside any job, with each chunk in order; then once with
    /// `.success(nil)` at end of stream or `.failure` (a socket error, `closed` after
    /// ``StreamSocket/close()``, `shutDown`), after which it is not called again and the socket
    /// lets go of the handler. Actors pinned to the reactor may be entered with
    /// ``Reactor/runIsolated(_:_:_:)``.
    func received(_ result: Result<BufferSlice?, any Error>)
}

extension StreamSocket {
    /// Delivers every chunk received from now on — and those received but not yet read — to
    /// `handler`, until the end of stream, a failure or ``close()``. The socket holds `handler`
    /// until then. ``receive()`` then fails with `concurrentReceive`.
    ///
    /// - Throws: `concurrentReceive` if a `receive()` is waiting or a handler is already set;
    ///   `closed` after ``close()``; `shutDown`.
    package func startReceiving(_ handler: some ReceiveHandler) async throws {
        try await reactor.withLoop { loop in
            try self.core.openReceiveQueue(loop: loop, mode: .socket).setHandler(handler)
        }
    }
}

extension StreamSocket {
    /// Stops the flow of received bytes until ``resumeReceiving()``: backpressure for a consumer
    /// whose own output cannot drain (a mux session whose socket is full).
    ///
    /// While paused, no chunk reaches the ``ReceiveHandler`` and the socket stops asking the kernel
    /// for data: its receive is cancelled, and chunks that complete before the cancellation lands
    /// are queued, not lost (about what the kernel already held for the socket, one socket buffer).
    /// Bytes not yet received stay in the kernel, so once the socket buffers fill the peer's sends
    /// block.
    ///
    /// The end of the stream and a socket error that arrive while paused are reported after
    /// ``resumeReceiving()``, behind the queued chunks, because they must follow the data.
    /// ``close()`` (and a reactor shutdown) is reported to the handler at once even while
    /// paused: it drops the queued chunks, and a handler nobody resumes must still be let go.
    ///
    /// Reactor thread only, synchronous, idempotent; may be called from inside
    /// ``ReceiveHandler/received(_:)``, and before ``startReceiving(_:)``. Without a handler it
    /// only stops reading ahead: ``receive()`` still returns chunks already received, then waits.
    /// No effect on a closed socket.
    package func pauseReceiving() {
        guard let queue = receiveQueueOnLoop() else { return }
        queue.pause()
    }

    /// Undoes ``pauseReceiving()``: the chunks queued meanwhile go to the handler in order, from
    /// the loop (never inside the caller), then the socket asks the kernel for more.
    ///
    /// Reactor thread only, synchronous, idempotent; may be called from inside
    /// ``ReceiveHandler/received(_:)``. No effect on a closed socket.
    package func resumeReceiving() {
        guard let queue = receiveQueueOnLoop() else { return }
        queue.resume()
    }

    /// The receive queue, made if needed; nil once the socket is closed or the reactor stopped.
    private func receiveQueueOnLoop() -> ReceiveQueue? {
        guard reactor.isCurrentThread, let loop = reactor.loop, !loop.exited else {
            precondition(reactor.hasStopped, "receive flow control off the reactor thread")
            return nil
        }
        return try? core.openReceiveQueue(loop: loop, mode: .socket)
    }
}
