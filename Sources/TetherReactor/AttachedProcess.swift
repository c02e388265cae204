import CLibUring
import Glibc
import Synchronization
import SystemPackage

/// What the host side needs of a process it signals and watches, whether it spawned it
/// (``ChildProcess``) or attached to it by its pid (``AttachedProcess``).
public protocol ProcessHandle: AnyObject, Sendable {
    /// The process's ID.
    var pid: Int32 { get }
    /// Sends `signal` to the process through its pidfd, so it can never reach another process
    /// that was given the same pid later. No effect once the process is known to have ended.
    func send(signal: Int32) throws(ReactorError)
}

extension ChildProcess: ProcessHandle {}

/// A process this one did not start, watched and signalled through a pidfd (`pidfd_open`).
///
/// Not our child, so it cannot be reaped and its exit status is its parent's to know: ``waitForExit()``
/// says only *that* it has ended (the pidfd becomes readable, seen with an io_uring poll). The
/// pidfd names the process that had the pid when ``attach(pid:on:)`` ran: once that process has
/// ended, signals through the handle fail or do nothing, even if the pid names another process
/// by then. Closing or dropping the handle closes the pidfd and leaves the process alone, and so
/// does ``Reactor/shutdown()``.
public final class AttachedProcess: ProcessHandle, Sendable {
    public let reactor: Reactor
    public let pid: Int32
    let core: HandleCore
    /// Set when the handle lets go of its pidfd (``close()``, or the reactor's shutdown): from
    /// then on the descriptor's number may name something else, so nothing is signalled or
    /// polled through it. Taken around every signal, so a close cannot slip in between.
    private let released = Mutex(false)

    private init(reactor: Reactor, pid: Int32, pidfd: Int32) {
        self.reactor = reactor
        self.pid = pid
        self.core = HandleCore(reactor: reactor, fd: pidfd, kind: "pidfd")
        core.beforeShutdownClose = { [weak self] _ in self?.released.withLock { $0 = true } }
    }

    deinit {
        core.dropped()
    }

    /// Opens a pidfd for the live process `pid`.
    ///
    /// - Throws: ``ReactorError`` `system` with `ESRCH` (``Errno/noSuchProcess``) when no process
    ///   has that pid; `EINVAL` for a pid that cannot name a process (0 or negative).
    public static func attach(pid: Int32, on reactor: Reactor) throws(ReactorError) -> AttachedProcess {
        guard pid > 0 else {
            throw ReactorError(.system, operation: "pidfd_open", errno: .invalidArgument, detail: "pid \(pid)")
        }
        let pidfd = try syscall("pidfd_open", detail: "pid \(pid)") { tether_pidfd_open(pid) }
        return AttachedProcess(reactor: reactor, pid: pid, pidfd: pidfd)
    }

    /// True once the process has ended (its pidfd is readable): asked of the kernel now, without
    /// waiting. Also true after ``close()``: the handle can no longer tell.
    public var hasExited: Bool {
        released.withLock { released in
            if released { return true }
            var entry = pollfd(fd: core.fd, events: Int16(POLLIN), revents: 0)
            return unsafe Glibc.poll(&entry, 1, 0) != 0
        }
    }

    /// Waits until the process has ended. The exit status is not known (see the type's summary).
    ///
    /// - Throws: `CancellationError` when the waiting task is cancelled, `closed` when the handle
    ///   is closed meanwhile, `shutDown` when the reactor stops.
    public func waitForExit() async throws {
        try await reactor.withLoop { loop in
            try self.core.checkOpen("poll")
            do {
                _ = try await loop.run(
                    .pollReadable(self.core.fd), handle: self.core,
                    decode: { $0.decodePoll($1, $2) })
            } catch is CancellationError where self.core.isClosed {
                throw ReactorError(.closed, operation: "poll", detail: "pidfd of \(self.pid) was closed")
            }
        }
    }

    /// Sends `signal` through the pidfd. No effect once the process has ended (`ESRCH`).
    ///
    /// - Throws: `closed` once the handle is closed (or its reactor shut down): the pidfd's
    ///   number may belong to another descriptor by then.
    public func send(signal: Int32) throws(ReactorError) {
        let pid = self.pid
        let pidfd = core.fd
        try released.withLock { released throws(ReactorError) in
            guard !released else {
                throw ReactorError(.closed, operation: "signal", detail: "the handle of process \(pid) was closed")
            }
            do throws(ReactorError) {
                _ = try syscall("pidfd_send_signal", detail: "pid \(pid)") { tether_pidfd_send_signal(pidfd, signal) }
            } catch  where error.errno == .noSuchProcess {
                return
            }
        }
    }

    /// Closes the pidfd; the process runs on untouched. Waits for the exit in flight end with
    /// `closed`.
    public func close() async throws {
        try await reactor.withLoop { loop in
            self.released.withLock { $0 = true }
            guard !self.core.isClosed else { return }
            loop.cancelOperations(onFileDescriptor: self.core.fd)
            try await self.core.close(loop: loop)
        }
    }
}
