import Glibc

/// Told when a send started with ``StreamSocket/startSending(_:to:)`` has finished.
package protocol SendHandler: AnyObject, Sendable {
    /// Called once on the reactor thread, outside any job: `.success` when the kernel has taken
    /// every byte (not when the peer has read them), or the failure (a socket error, `closed`,
    /// `aborted` after `StreamSocket.abort()`, `shutDown`), after which the socket is unusable
    /// for sending. The slices are released right after this call.
    func sent(_ result: Result<Void, any Error>)

    /// Called on the reactor thread, outside any job, each time the kernel took part of the
    /// slices but not all: the send is slow, not stalled. Does nothing unless implemented.
    func sendProgressed()
}

extension SendHandler {
    package func sendProgressed() {}
}

extension StreamSocket {
    /// Starts sending all of `slices`, in order, gathered into as few `sendmsg` calls as
    /// possible, and returns at once; `handler` is told when it is done. Reactor thread only.
    ///
    /// For a writer that otherwise would be a task awaiting ``send(_:)-([BufferSlice])`` in a
    /// loop: the next batch can be started from the completion, with no task to resume. One
    /// send at a time per socket: start the next from `handler`. The slices are held (and their
    /// memory read in place by the kernel) until then.
    ///
    /// - Throws: `closed` after ``close()``, `aborted` after `abort()`, `shutDown`,
    ///   `tooManyOperations` when every operation slot is in use; `handler` is not called then.
    package func startSending(_ slices: [BufferSlice], to handler: some SendHandler) throws(ReactorError) {
        guard reactor.isCurrentThread, let loop = reactor.loop, !loop.exited else {
            precondition(reactor.hasStopped, "startSending off the reactor thread")
            throw ReactorError(.shutDown, operation: "sendmsg")
        }
        try core.checkSendable("sendmsg")
        let send = GatheredSend(socket: self, slices: slices, handler: handler)
        if send.cursor.isDone {
            loop.callbacks.append(CompletedSend(handler: handler))
            return
        }
        try send.submitNext(loop: loop)
    }
}

/// One completion-driven gathered send: the slices, how far the kernel has taken them, and who
/// to tell. Held by its operation's slot while a `sendmsg` is in flight. Reactor thread only.
final class GatheredSend: @unsafe @unchecked Sendable {
    // SAFETY: created, submitted and completed on the reactor thread only.
    /// Held, not just its core: a socket dropped meanwhile would close its fd at once, and the
    /// number could name another file by the time the prepared `sendmsg` reaches the kernel.
    let socket: StreamSocket
    var cursor: SendCursor
    let handler: any SendHandler
    /// A poll for room is in flight instead of a `sendmsg`: the last one completed with `EAGAIN`
    /// (a socket with `O_NONBLOCK`, on a kernel that then returns rather than waits).
    private var awaitingRoom = false

    var core: HandleCore { socket.core }

    init(socket: StreamSocket, slices: [BufferSlice], handler: any SendHandler) {
        self.socket = socket
        self.cursor = SendCursor(slices)
        self.handler = handler
    }

    /// Submits the `sendmsg` for what is left.
    func submitNext(loop: EventLoop) throws(ReactorError) {
        // A closed fd's number may already name another file: never send on it again.
        if core.isClosed {
            throw ReactorError(.closed, operation: "sendmsg", detail: "\(core.kind) fd \(core.fd) is closed")
        }
        let iovecCount = cursor.iovecCount(max: loop.configuration.maxIovecsPerSend)
        let operation = Operation.sendMessage(fd: core.fd, iovecCount: iovecCount)
        let started = loop.start(operation, target: .sender(self)) { index in
            unsafe cursor.fill(loop.table.iovecs(at: index), count: iovecCount)
        }
        guard started != nil else {
            throw ReactorError(loop.stopping ? .shutDown : .tooManyOperations, operation: "sendmsg")
        }
    }

    /// The kernel finished one `sendmsg` (or the poll for room): go on with the rest, or tell the
    /// handler.
    func complete(_ completion: Completion, loop: EventLoop) {
        let context = CompletionContext(shuttingDown: loop.stopping, handleClosed: core.isClosed)
        if awaitingRoom {
            awaitingRoom = false
            completedPoll(completion, context: context, loop: loop)
            return
        }
        let decoded = completion.decodeSend("sendmsg", context)
        do {
            // Aborted: whatever the kernel says (cancelled, EPIPE, a last partial send), the rest
            // is not sent, unless this completion happens to finish the send.
            if core.isAborted, !loop.stopping {
                if case .success(let sent) = decoded { cursor.advance(by: sent) }
                if cursor.isDone {
                    handler.sent(.success(()))
                    return
                }
                throw core.abortedError("sendmsg")
            }
            switch decoded {
            case .success(let sent):
                precondition(sent > 0, "sendmsg made no progress")
                cursor.advance(by: sent)
                if cursor.isDone {
                    handler.sent(.success(()))
                    return
                }
                handler.sendProgressed()
            case .failure(.retry):
                if completion.result == -EAGAIN {
                    try waitForRoom(loop: loop)
                    return
                }
            case .failure(let failure):
                throw failure.error
            }
            try submitNext(loop: loop)
        } catch {
            handler.sent(.failure(error))
        }
    }

    /// Polls for room before the next `sendmsg`: submitted again at once, an `EAGAIN` would come
    /// back at once, every loop turn, for as long as the peer does not read.
    private func waitForRoom(loop: EventLoop) throws(ReactorError) {
        if core.isClosed {
            throw ReactorError(.closed, operation: "sendmsg", detail: "\(core.kind) fd \(core.fd) is closed")
        }
        guard loop.start(.pollWritable(core.fd), target: .sender(self)) != nil else {
            throw ReactorError(loop.stopping ? .shutDown : .tooManyOperations, operation: "sendmsg")
        }
        awaitingRoom = true
    }

    /// The poll for room ended: send the rest, or report why not (an abort, a failure).
    private func completedPoll(_ completion: Completion, context: CompletionContext, loop: EventLoop) {
        do {
            if core.isAborted, !loop.stopping { throw core.abortedError("sendmsg") }
            switch completion.decodePoll("sendmsg", context) {
            case .success, .failure(.retry):
                try submitNext(loop: loop)
            case .failure(let failure):
                throw failure.error
            }
        } catch {
            handler.sent(.failure(error))
        }
    }
}

/// Tells a handler that an empty send finished, from the loop like any other completion.
private final class CompletedSend: ReactorCallback {
    let handler: any SendHandler
    init(handler: any SendHandler) { self.handler = handler }
    func reactorCallback() { handler.sent(.success(())) }
}
