/// Takes a socket's received bytes as they complete, instead of a task calling
/// ``StreamSocket/receive()`` (see ``StreamSocket/startReceiving(_:)``).
///
/// For a consumer that processes every chunk synchronously anyway (a protocol parser): each
/// chunk costs a call from the loop, where a receiving task costs a job to resume it.
public protocol ReceiveHandler: AnyObject, Sendable {
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
    public func startReceiving(_ handler: some ReceiveHandler) async throws {
        try await reactor.withLoop { loop in
            try self.core.openReceiveQueue(loop: loop, mode: .socket).setHandler(handler)
        }
    }
}
