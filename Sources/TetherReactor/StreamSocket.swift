import CLibUring
import Glibc
import SystemPackage

/// A connected byte-stream socket (unix or TCP) driven by a reactor.
///
/// Receives come from one multishot recv into the reactor's provided buffers and are returned as
/// ``BufferSlice``s without a copy. Sends gather every slice into one `sendmsg`. Methods may be
/// called from any task; from a task on the reactor they complete without a thread hop.
/// One `receive()` may wait at a time; sends from several tasks are not interleaved within a call
/// but calls may interleave with each other, so give one writer ownership of a socket.
public final class StreamSocket: Sendable {
    /// The reactor that drives this socket.
    public let reactor: Reactor
    let core: HandleCore

    init(reactor: Reactor, fd: Int32) {
        self.reactor = reactor
        self.core = HandleCore(reactor: reactor, fd: fd, kind: "socket")
    }

    deinit { core.dropped() }

    /// Takes ownership of an already connected stream socket (for example one inherited from a
    /// parent process). It is closed by ``close()``, by reactor shutdown, or when dropped.
    ///
    /// The socket owns the descriptor from now on: closing it elsewhere is a bug, and the reactor
    /// traps when the kernel reports the descriptor gone (`EBADF`) rather than act on a number
    /// that may already name another file.
    public static func adopting(_ fileDescriptor: FileDescriptor, on reactor: Reactor) -> StreamSocket {
        StreamSocket(reactor: reactor, fd: fileDescriptor.rawValue)
    }

    /// A connected pair of unix stream sockets (`socketpair`), both driven by `reactor`.
    public static func makePair(on reactor: Reactor) throws(ReactorError) -> (StreamSocket, StreamSocket) {
        var fds: (Int32, Int32) = (-1, -1)
        _ = try syscall("socketpair") {
            unsafe withUnsafeMutableBytes(of: &fds) { raw in
                unsafe socketpair(
                    AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0,
                    raw.baseAddress!.assumingMemoryBound(to: Int32.self))
            }
        }
        return (StreamSocket(reactor: reactor, fd: fds.0), StreamSocket(reactor: reactor, fd: fds.1))
    }

    /// Connects to `address` (through the ring) and returns the connected socket.
    ///
    /// - Throws: ``ReactorError`` with the errno: `ENOENT` for a unix path that does not exist
    ///   (``ReactorError/isNoSuchFile``), `ECONNREFUSED` for a closed port or a unix socket nobody
    ///   listens on (``ReactorError/isConnectionRefused``), ``ReactorError/Code/invalidArgument``
    ///   for a malformed address.
    public static func connect(to address: SocketAddress, on reactor: Reactor) async throws -> StreamSocket {
        var storage = sockaddr_storage()
        let length = try unsafe address.write(to: &storage)
        try reactor.configuration.faultInjector?.checkCall(.socket, operation: "socket")
        let fd = try syscall("socket") {
            Glibc.socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        let socket = StreamSocket(reactor: reactor, fd: fd)
        let captured = UncheckedSendable(value: storage)
        do {
            try await reactor.withLoop { loop in
                try socket.core.checkOpen("connect")
                try await loop.run(.connect(fd: fd), handle: socket.core, decode: { $0.decodeDone($1, $2) }) { index in
                    unsafe loop.table.scratch(at: index).pointee.address = captured.value
                    unsafe loop.table.scratch(at: index).pointee.addressLength = length
                }
            }
        } catch let error as ReactorError {
            try? await socket.close()
            throw ReactorError(error.code, operation: "connect", errno: error.errno, detail: "\(address)")
        } catch {
            try? await socket.close()
            throw error
        }
        if case .tcp = address { socket.setNoDelay() }
        return socket
    }

    /// The file descriptor, for socket options or passing to a child. Still owned by this object.
    public var fileDescriptor: FileDescriptor { FileDescriptor(rawValue: core.fd) }

    /// The next bytes received, or nil once the peer has closed its side (end of stream).
    ///
    /// - Throws: `CancellationError` if the task is cancelled while waiting (bytes arriving later
    ///   are kept for the next call), ``ReactorError`` for a socket error, `closed` after
    ///   ``close()``, `shutDown` when the reactor stops, `concurrentReceive` if another
    ///   `receive()` is already waiting.
    // `nonisolated(nonsending)`: called from an actor pinned to the reactor, the receive runs on
    // that actor without switching off it and back.
    public nonisolated(nonsending) func receive() async throws -> BufferSlice? {
        try await reactor.withLoop { loop in
            try await self.core.openReceiveQueue(loop: loop, mode: .socket).receive()
        }
    }

    /// Sends all of `slice`.
    public nonisolated(nonsending) func send(_ slice: BufferSlice) async throws {
        try await send([slice])
    }

    /// Sends all of `slices`, in order, gathered into as few `sendmsg` calls as possible.
    /// Returns when the kernel has taken every byte (not when the peer has read them).
    public nonisolated(nonsending) func send(_ slices: [BufferSlice]) async throws {
        try await reactor.withLoop { loop in
            try await self.core.writeAll(slices, loop: loop, socket: true)
        }
    }

    /// The receive side's internal state in one line (armed, queued buffers, end of stream,
    /// a waiting reader), for diagnosing a stuck connection.
    public func receiveDiagnostics() async -> String {
        (try? await reactor.withLoop { _ in self.core.receiveQueue?.diagnostics ?? "no receive yet" })
            ?? "reactor stopped"
    }

    /// Half-closes: the peer sees end of stream, this side can still receive.
    public func shutdownWriting() throws(ReactorError) {
        _ = try syscall("shutdown") { Glibc.shutdown(core.fd, Int32(SHUT_WR)) }
    }

    /// Ends this socket's conversation now, whatever its peer does: for a session that must close
    /// by a deadline while its sends are stuck behind a peer that does not read.
    ///
    /// Shuts the socket down both ways (`shutdown(SHUT_RDWR)`) and cancels every operation in
    /// flight on it. A send started with ``startSending(_:to:)`` tells its handler
    /// ``ReactorError/Code/aborted`` and releases its slices; an awaited ``send(_:)-([BufferSlice])``
    /// throws `aborted`; later sends are refused with `aborted`. The receive side goes on: it
    /// reads what the kernel still holds, then sees the end of stream (a handler is told
    /// `.success(nil)`, `receive()` returns nil; while paused, after ``resumeReceiving()``).
    /// The descriptor stays open until ``close()``, which is still needed.
    ///
    /// Idempotent; no effect on a closed socket. On the reactor thread it takes effect before it
    /// returns; from elsewhere it is posted to the reactor.
    package func abort() {
        reactor.onLoop { [core, reactor] in core.abort(loop: reactor.currentLoop) }
    }

    /// Closes the socket: a waiting `receive()` fails with `closed`, unread bytes are dropped.
    public func close() async throws {
        try await reactor.withLoop { loop in try await self.core.close(loop: loop) }
    }

    /// Credentials of the peer process (`SO_PEERCRED`) of a unix socket.
    public func peerCredentials() throws(ReactorError) -> (pid: Int32, uid: UInt32, gid: UInt32) {
        var credentials = tether_ucred()
        _ = try syscall("getsockopt SO_PEERCRED") { unsafe tether_peer_credentials(core.fd, &credentials) }
        return (credentials.pid, credentials.uid, credentials.gid)
    }

    /// This end's address (`getsockname`).
    public func localAddress() throws(ReactorError) -> SocketAddress {
        try unsafe SocketAddress.of(core.fd, getsockname, "getsockname")
    }

    /// The other end's address (`getpeername`).
    public func peerAddress() throws(ReactorError) -> SocketAddress {
        try unsafe SocketAddress.of(core.fd, getpeername, "getpeername")
    }

    func setNoDelay() {
        var one: Int32 = 1
        // Best effort: a socket without it still works, with Nagle's delay on small writes.
        _ = try? syscall("setsockopt TCP_NODELAY") {
            unsafe setsockopt(core.fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
    }
}

/// Moves a plain C value into a `@Sendable` closure. Only for values without references.
struct UncheckedSendable<Value>: @unsafe @unchecked Sendable {
    let value: Value
}
