import CLibUring
import Glibc
import Synchronization
import SystemPackage

/// A listening stream socket (unix or TCP) whose connections arrive through a multishot accept.
public final class Listener: Sendable {
    /// The reactor that drives this listener.
    public let reactor: Reactor
    /// The bound address; for TCP port 0, the port the kernel chose.
    public let address: SocketAddress
    let core: HandleCore

    fileprivate init(reactor: Reactor, fd: Int32, address: SocketAddress) {
        self.reactor = reactor
        self.address = address
        self.core = HandleCore(reactor: reactor, fd: fd, kind: "listener")
        if case .unix(let path) = address {
            // The socket file is ours (bind created it): remove it with the listener.
            core.afterClose = { _ = try? syscall("unlink", detail: path) { unsafe unlink(path) } }
        }
    }

    deinit { core.dropped() }

    /// Binds and listens on `address`.
    ///
    /// - Throws: ``ReactorError`` with the errno, e.g. `EADDRINUSE` for a taken port or an
    ///   existing path, `ENOENT`/`EACCES` for a unix path whose directory is missing or private.
    public static func listen(on address: SocketAddress, backlog: Int32 = 511, reactor: Reactor)
        throws(ReactorError) -> Listener
    {
        try reactor.configuration.faultInjector?.checkCall(.socket, operation: "socket")
        return try ListeningSocket(on: address, backlog: backlog).listener(on: reactor)
    }

    /// The next connection. Several connections may be accepted ahead by the multishot accept.
    ///
    /// - Throws: `CancellationError` if the task is cancelled while waiting, `closed` after
    ///   ``close()``, `shutDown` when the reactor stops. When the process runs out of descriptors
    ///   or the kernel out of memory, a ``ReactorError`` with that errno (`EMFILE`, `ENFILE`,
    ///   `ENOBUFS`, `ENOMEM`), once per episode: the listener stays usable, retries after a
    ///   back-off (10 ms doubling to 1 s) and the connections wait in the backlog, so calling
    ///   `accept()` again waits for them without spinning
    ///   (``ReactorCounters/acceptResourceExhaustions`` counts the episodes).
    public func accept() async throws -> StreamSocket {
        let fd = try await reactor.withLoop { loop in
            try self.core.checkOpen("accept")
            let queue = self.core.acceptQueue ?? AcceptQueue(loop: loop, fd: self.core.fd)
            self.core.acceptQueue = queue
            return try await queue.accept()
        }
        let socket = StreamSocket(reactor: reactor, fd: fd)
        if case .tcp = address { socket.setNoDelay() }
        return socket
    }

    /// The listening file descriptor (still owned by this object).
    public var fileDescriptor: FileDescriptor { FileDescriptor(rawValue: core.fd) }

    /// Stops listening, closes connections accepted but not yet claimed, removes a unix socket file.
    public func close() async throws {
        try await reactor.withLoop { loop in try await self.core.close(loop: loop) }
    }
}

/// A bound, listening socket not yet driven by a reactor: connections wait in its backlog until
/// ``listener(on:)`` hands it to one. A plugin listens and prints its address before its reactor
/// has started, so the host's connect overlaps that start. Its descriptor (and a unix socket's
/// file) is released when it is dropped without becoming a listener.
package final class ListeningSocket: Sendable {
    /// The bound address; for TCP port 0, the port the kernel chose.
    package let address: SocketAddress
    private let fd: Mutex<Int32?>

    /// Binds and listens on `address`; throws as ``Listener/listen(on:backlog:reactor:)`` does.
    package init(on address: SocketAddress, backlog: Int32 = 511) throws(ReactorError) {
        var storage = sockaddr_storage()
        let length = try unsafe address.write(to: &storage)
        let fd = try syscall("socket") {
            Glibc.socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        do throws(ReactorError) {
            if case .tcp = address {
                var one: Int32 = 1
                _ = try syscall("setsockopt SO_REUSEADDR") {
                    unsafe setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
                }
            }
            _ = try syscall("bind", detail: "\(address)") {
                unsafe withUnsafePointer(to: &storage) { pointer in
                    unsafe pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { unsafe bind(fd, $0, length) }
                }
            }
            do throws(ReactorError) {
                _ = try syscall("listen", detail: "\(address)") { Glibc.listen(fd, backlog) }
                // The kernel's port when asked for port 0; a unix path as given (the kernel's may be cut).
                self.address =
                    if case .unix = address {
                        address
                    } else {
                        try unsafe SocketAddress.of(fd, getsockname, "getsockname")
                    }
            } catch {
                if case .unix(let path) = address { _ = unsafe unlink(path) }
                throw error
            }
            self.fd = Mutex(fd)
        } catch {
            closeDescriptor(fd)
            throw error
        }
    }

    /// The listener driving this socket on `reactor`. Called once; the listener owns the
    /// descriptor (and a unix socket's file) from then on.
    package func listener(on reactor: Reactor) -> Listener {
        guard let fd = fd.withLock({ $0.take() }) else { preconditionFailure("a ListeningSocket becomes one listener") }
        return Listener(reactor: reactor, fd: fd, address: address)
    }

    deinit {
        guard let fd = fd.withLock({ $0.take() }) else { return }
        closeDescriptor(fd)
        if case .unix(let path) = address { _ = unsafe unlink(path) }
    }
}
