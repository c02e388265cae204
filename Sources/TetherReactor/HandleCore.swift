import CLibUring
import Glibc

/// The reactor-side state of one file descriptor owned by a public handle (socket, listener, pipe
/// end, process). Mutated on the reactor thread only; the public handle reaches it via `withLoop`.
final class HandleCore: LoopHandle, @unsafe @unchecked Sendable {
    // SAFETY: every mutable field is touched on the reactor thread only (via `withLoop`/`onLoop`).
    let reactor: Reactor
    let fd: Int32
    let kind: String
    var receiveQueue: ReceiveQueue?
    var acceptQueue: AcceptQueue?
    /// Set once closing began; every later operation fails with `closed`.
    private(set) var isClosed = false
    /// Set by ``abort(loop:)``: sends end with `aborted`; receives go on to the end of stream.
    private(set) var isAborted = false
    /// Runs after the fd is closed (a listener unlinks its socket path).
    var afterClose: (() -> Void)?
    /// Runs with the fd just before ``closeForShutdown()`` closes it (a child process is killed
    /// and reaped through its pidfd).
    var beforeShutdownClose: ((Int32) -> Void)?

    init(reactor: Reactor, fd: Int32, kind: String) {
        self.reactor = reactor
        self.fd = fd
        self.kind = kind
        // Registered so that a reactor shutdown closes what its users left open.
        reactor.onLoop { [self] in
            if !isClosed { reactor.currentLoop.openHandles[ObjectIdentifier(self)] = self }
        }
    }

    func checkOpen(_ operation: String) throws(ReactorError) {
        if isClosed { throw ReactorError(.closed, operation: operation, detail: "\(kind) fd \(fd) is closed") }
    }

    /// Throws unless sends may start: `closed` once closed, `aborted` once aborted.
    func checkSendable(_ operation: String) throws(ReactorError) {
        try checkOpen(operation)
        if isAborted { throw abortedError(operation) }
    }

    func abortedError(_ operation: String) -> ReactorError {
        ReactorError(.aborted, operation: operation, detail: "\(kind) fd \(fd) was aborted")
    }

    /// Shuts the socket down both ways and cancels every operation in flight on it: sends fail
    /// with `aborted` (see `GatheredSend` and ``writeAll(_:loop:socket:)``), receives are armed
    /// again by their queues and then read what the kernel still holds, then the end of stream.
    /// The fd stays open until ``close(loop:)``. Reactor thread only; no effect once closed.
    func abort(loop: EventLoop) {
        guard !isClosed, !isAborted else { return }
        isAborted = true
        // ENOTCONN (never connected) is fine: there is nothing to shut down, only to cancel.
        _ = try? syscall("shutdown") { Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
        loop.cancelOperations(onFileDescriptor: fd)
    }

    /// The fd's receive queue, made at the first receive. Reactor thread only.
    ///
    /// - Throws: `closed` once the handle is closed.
    func openReceiveQueue(loop: EventLoop, mode: ReceiveQueue.Mode) throws(ReactorError) -> ReceiveQueue {
        try checkOpen(mode == .socket ? "recv" : "read")
        if let receiveQueue { return receiveQueue }
        let queue = ReceiveQueue(loop: loop, fd: fd, mode: mode)
        receiveQueue = queue
        return queue
    }

    /// Closes through the ring once no receive is in flight on the fd. Reactor thread only.
    nonisolated(nonsending) func close(loop: EventLoop) async throws {
        guard !isClosed else { return }
        isClosed = true
        loop.openHandles[ObjectIdentifier(self)] = nil
        receiveQueue?.close()
        acceptQueue?.close()
        await receiveQueue?.waitUntilDisarmed()
        await acceptQueue?.waitUntilDisarmed()
        defer { afterClose?() }
        do {
            // No handle: the close is the handle's own, and an EBADF here is a double close.
            try await loop.run(.close(fd: fd), decode: { $0.decodeDone($1, $2) })
        } catch let error as ReactorError where error.code == .shutDown {
            closeDescriptor(fd)
        } catch is CancellationError {
            // A cancelled task still closes what it owns: the close never reached the kernel (or
            // the kernel cancelled it before it ran), so the fd is closed here.
            closeDescriptor(fd)
        }
    }

    /// Synchronous close for shutdown and for handles dropped without `close()`; never used while
    /// an operation is in flight on the fd.
    func closeForShutdown() {
        guard !isClosed else { return }
        isClosed = true
        receiveQueue?.close()
        acceptQueue?.close()
        beforeShutdownClose?(fd)
        closeDescriptor(fd)
        afterClose?()
    }

    /// Closes the handle without closing its fd, and returns the fd to its new owner (nil if
    /// the handle was closed already). Nothing may be in flight on the fd for this handle.
    /// Reactor thread only.
    func releaseDescriptor(loop: EventLoop) -> Int32? {
        guard !isClosed else { return nil }
        isClosed = true
        loop.openHandles[ObjectIdentifier(self)] = nil
        return fd
    }

    /// Handle dropped by its user: close on the reactor (cancelling receives first), or right away
    /// if the reactor has stopped.
    func dropped() {
        let posted = reactor.onLoop { [self] in
            let loop = reactor.currentLoop
            loop.openHandles[ObjectIdentifier(self)] = nil
            if receiveQueue?.isArmed == true || acceptQueue != nil {
                Task(executorPreference: reactor) { try? await self.close(loop: self.reactor.currentLoop) }
            } else {
                closeForShutdown()
            }
        }
        if !posted { closeForShutdown() }
    }

    /// Sends every byte of `slices` in order, as few `sendmsg`/`writev` calls as the kernel allows.
    ///
    /// The slices stay alive (and so their memory valid) until this returns, which is after the
    /// last completion: the kernel reads them in place, nothing is copied by us.
    ///
    /// - Throws: `aborted` when ``abort(loop:)`` ends the send before the kernel took every byte.
    nonisolated(nonsending) func writeAll(_ slices: [BufferSlice], loop: EventLoop, socket: Bool) async throws {
        let name = socket ? "sendmsg" : "writev"
        try checkSendable(name)
        var cursor = SendCursor(slices)
        let maxIovecs = loop.configuration.maxIovecsPerSend
        while !cursor.isDone {
            // Aborted between two parts of a long send: the rest is not sent.
            try checkSendable(name)
            let iovecCount = cursor.iovecCount(max: maxIovecs)
            let operation: Operation =
                socket ? .sendMessage(fd: fd, iovecCount: iovecCount) : .writeVector(fd: fd, iovecCount: iovecCount)
            let filling = cursor
            let sent: Int
            do {
                sent = try await loop.run(operation, handle: self, decode: { $0.decodeSend($1, $2) }) { index in
                    unsafe filling.fill(loop.table.iovecs(at: index), count: iovecCount)
                }
            } catch let error as ReactorError where error.code == .shutDown {
                throw error
            } catch {
                // The abort's cancellation (or its shutdown's EPIPE) is reported as the abort.
                if isAborted { throw abortedError(name) }
                throw error
            }
            precondition(sent > 0, "\(operation.name) of \(iovecCount) iovecs made no progress")
            cursor.advance(by: sent)
        }
    }
}
