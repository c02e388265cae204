import CLibUring
import Glibc
import Synchronization
import SystemPackage

/// A child process started with `posix_spawn` and watched through a pidfd.
///
/// Its exit is an io_uring completion (`IORING_OP_WAITID` on the pidfd), not a signal handler or a
/// thread, and waiting for it reaps it. Signals go through the pidfd, so they can never reach a
/// recycled pid.
///
/// A child is always reaped, never left a zombie: a handle dropped or closed while its child runs
/// hands the child to the reactor, which keeps a `waitid` on its pidfd in flight and reaps it when
/// it exits (it is not killed for that). ``Reactor/shutdown()`` kills and reaps every child
/// spawned on the reactor that has not been reaped yet.
public final class ChildProcess: Sendable {
    /// How the child's file descriptors are set up: `target` in the child is `source` in the parent.
    public struct FileMapping: Sendable, Hashable {
        public var source: FileDescriptor
        public var target: FileDescriptor
        public init(_ source: FileDescriptor, as target: FileDescriptor) {
            self.source = source
            self.target = target
        }
    }

    public let reactor: Reactor
    /// The child's process ID.
    public let pid: Int32
    let core: HandleCore
    private let exitState = Mutex(ExitState())

    /// The child's end as far as this handle knows, and who waits for it.
    private struct ExitState {
        var status: ExitStatus?
        /// The handle let go of its pidfd (closed, detached, or closed by the reactor's
        /// shutdown): the reactor may reap the child and close the pidfd without this handle
        /// learning the status, so neither the pidfd's number nor the child's pid are its to
        /// signal any more.
        var released = false
        /// A `waitid` is in flight for the current waiters.
        var watching = false
        var waiters: [UInt64: CheckedContinuation<Result<ExitStatus, any Error>, Never>] = [:]
        var nextWaiter: UInt64 = 0
    }

    /// What a new waiter does: take the known status, join the `waitid` in flight, or start one.
    private enum WaitStep {
        case resume(Result<ExitStatus, any Error>)
        case wait
        case watch
    }

    /// True when the child leads a process group of its own (spawned with `newProcessGroup`).
    public let leadsProcessGroup: Bool

    private init(reactor: Reactor, pid: Int32, pidfd: Int32, leadsProcessGroup: Bool) {
        self.reactor = reactor
        self.pid = pid
        self.leadsProcessGroup = leadsProcessGroup
        self.core = HandleCore(reactor: reactor, fd: pidfd, kind: "pidfd")
        // A reactor shutdown that finds the handle open ends the child before closing its pidfd.
        core.beforeShutdownClose = { [weak self] pidfd in
            self?.release()
            ChildReaping.killAndReap(pidfd: pidfd, pid: pid, leadsProcessGroup: leadsProcessGroup)
        }
    }

    deinit {
        // No `waitid` of the handle is in flight here: one holds the handle until it completes.
        if exitStatus != nil {
            core.dropped()
            return
        }
        let core = self.core
        let pid = self.pid
        let leadsProcessGroup = self.leadsProcessGroup
        let posted = reactor.onLoop {
            OrphanedChild.adopt(core, pid: pid, leadsProcessGroup: leadsProcessGroup, loop: core.reactor.currentLoop)
        }
        // The reactor has stopped: its shutdown killed and reaped the child already.
        if !posted { core.closeForShutdown() }
    }

    /// Starts `executable` with `arguments` (not including argv[0], which is the executable path).
    ///
    /// - Parameters:
    ///   - environment: the complete environment of the child, `KEY=VALUE`.
    ///   - files: descriptors to set up in the child. Unmapped 0, 1, 2 are inherited from this
    ///     process; every descriptor above the highest of 2 and the mapped targets is closed in the
    ///     child, even one another library left without close-on-exec.
    ///   - newProcessGroup: put the child in a process group of its own, so a signal to the group
    ///     reaches its children too, and the terminal's Ctrl-C does not. A reactor shutdown that
    ///     finds the child unreaped sends `SIGKILL` to that group.
    ///
    /// The child belongs to `reactor` until it is reaped, whatever happens to the handle: dropping
    /// or closing the handle leaves the child running and the reactor reaps it when it exits;
    /// ``Reactor/shutdown()`` kills it (its group, if it leads one) and reaps it.
    /// - Throws: ``ReactorError/Code/spawnFailed`` with the errno (`ENOENT` missing, `EACCES` not
    ///   executable).
    public static func spawn(
        executable: String, arguments: [String] = [], environment: [String],
        files: [FileMapping] = [], newProcessGroup: Bool = false, programName: String? = nil, on reactor: Reactor
    ) throws(ReactorError) -> ChildProcess {
        var actions = unsafe posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        unsafe posix_spawn_file_actions_init(&actions)
        unsafe posix_spawnattr_init(&attributes)
        defer {
            unsafe posix_spawn_file_actions_destroy(&actions)
            unsafe posix_spawnattr_destroy(&attributes)
        }
        // dup2 onto itself would keep FD_CLOEXEC: route such a mapping through a temporary copy.
        var temporaries: [Int32] = []
        defer { temporaries.forEach(closeDescriptor) }
        for mapping in files {
            var source = mapping.source.rawValue
            if source == mapping.target.rawValue || files.contains(where: { $0.target.rawValue == source }) {
                source = try syscall("fcntl F_DUPFD_CLOEXEC") { fcntl(source, F_DUPFD_CLOEXEC, 100) }
                temporaries.append(source)
            }
            unsafe posix_spawn_file_actions_adddup2(&actions, source, mapping.target.rawValue)
        }
        let highestTarget = files.map(\.target.rawValue).max() ?? 2
        unsafe tether_spawn_close_from(&actions, max(highestTarget, 2) + 1)
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if newProcessGroup {
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
            unsafe posix_spawnattr_setpgroup(&attributes, 0)
        }
        // The child starts with no blocked signals and default dispositions for the ones a
        // runtime commonly ignores or handles (SIGPIPE is ignored by many hosts).
        var emptyMask = sigset_t()
        unsafe sigemptyset(&emptyMask)
        unsafe posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        unsafe sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD] { unsafe sigaddset(&defaults, signal) }
        unsafe posix_spawnattr_setsigdefault(&attributes, &defaults)
        unsafe posix_spawnattr_setflags(&attributes, Int16(flags))

        var pid: pid_t = 0
        let argv = [programName ?? executable] + arguments
        let result = unsafe withCStringArray(argv) { argvPointer in
            unsafe withCStringArray(environment) { envPointer in
                unsafe posix_spawn(&pid, executable, &actions, &attributes, argvPointer, envPointer)
            }
        }
        guard result == 0 else {
            throw ReactorError(
                .spawnFailed, operation: "posix_spawn", errno: Errno(rawValue: result), detail: executable)
        }
        let pidfd: Int32
        do throws(ReactorError) {
            pidfd = try syscall("pidfd_open", detail: executable) { tether_pidfd_open(pid) }
        } catch {
            // Without a pidfd we cannot watch it; do not leave it running unwatched.
            _ = try? syscall("kill") { kill(pid, SIGKILL) }
            var status: Int32 = 0
            _ = try? syscall("waitpid") { unsafe waitpid(pid, &status, 0) }
            throw error
        }
        // pidfd_open sets close-on-exec itself; this only makes sure.
        _ = try? syscall("fcntl F_SETFD") { fcntl(pidfd, F_SETFD, FD_CLOEXEC) }
        return ChildProcess(reactor: reactor, pid: pid, pidfd: pidfd, leadsProcessGroup: newProcessGroup)
    }

    /// Waits for the child to end and reaps it. Returns the same status to every later call, and
    /// to any number of tasks waiting at once: one `waitid` on the pidfd serves them all.
    ///
    /// - Throws: `CancellationError` if the waiting task is cancelled (the child keeps running and
    ///   can be waited for again), `shutDown` if the reactor stops.
    public func waitForExit() async throws -> ExitStatus {
        if let known = exitStatus { return known }
        let id = exitState.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<ExitStatus, any Error>, Never>) in
                let step = exitState.withLock { state -> WaitStep in
                    if let status = state.status { return .resume(.success(status)) }
                    // Cancelled before registering: the handler found nothing to remove.
                    if Task.isCancelled { return .resume(.failure(CancellationError())) }
                    state.waiters[id] = continuation
                    defer { state.watching = true }
                    return state.watching ? .wait : .watch
                }
                switch step {
                case .resume(let result): continuation.resume(returning: result)
                case .wait: break
                case .watch: watch()
                }
            }
        } onCancel: {
            exitState.withLock { $0.waiters.removeValue(forKey: id) }?.resume(returning: .failure(CancellationError()))
        }
        return try result.get()
    }

    /// Runs one `waitid` for everyone waiting and hands them its result. Cancelled waiters leave
    /// it running: the next waiter finds it in flight.
    private func watch() {
        Task(executorPreference: reactor) { [self] in
            let result: Result<ExitStatus, any Error>
            do {
                result = .success(
                    try await reactor.withLoop { loop in
                        try self.core.checkOpen("waitid")
                        do {
                            return try await loop.run(
                                .waitForExit(pidfd: self.core.fd), handle: self.core, decode: { $0.decodeExit($1, $2) })
                        } catch let error as ReactorError where error.errno == .noChildProcess && self.core.isClosed {
                            // The handle was closed meanwhile and the reactor's own wait reaped it.
                            throw ReactorError(.closed, operation: "waitid", detail: "pidfd of \(self.pid) was closed")
                        }
                    })
            } catch {
                result = .failure(error)
            }
            let waiters = exitState.withLock { state in
                if case .success(let status) = result { state.status = status }
                state.watching = false
                defer { state.waiters.removeAll() }
                return Array(state.waiters.values)
            }
            for waiter in waiters { waiter.resume(returning: result) }
        }
    }

    /// The exit status, if ``waitForExit()`` has already seen it.
    public var exitStatus: ExitStatus? { exitState.withLock { $0.status } }

    /// Tasks waiting in ``waitForExit()`` now (for tests: waiters that joined a `waitid`).
    package var exitWaiterCount: Int { exitState.withLock { $0.waiters.count } }

    /// Sends `signal` to the child through its pidfd (no effect once it has been reaped).
    ///
    /// - Throws: `closed` once the handle was closed or detached (or the reactor shut down)
    ///   without having seen the exit: the reactor may have reaped the child and closed the
    ///   pidfd since, and the descriptor's number may belong to something else by now.
    public func send(signal: Int32) throws(ReactorError) {
        try signalUnlessReleased { pidfd throws(ReactorError) in try Self.signal(pidfd, signal) }
    }

    /// `pidfd_send_signal`; `ESRCH` (the child exited, the handle has not seen it yet) is no
    /// effect, as for a child whose exit the handle has seen.
    private static func signal(_ pidfd: Int32, _ signal: Int32) throws(ReactorError) {
        do {
            _ = try syscall("pidfd_send_signal") { tether_pidfd_send_signal(pidfd, signal) }
        } catch  where error.errno == .noSuchProcess {
            return
        }
    }

    /// Runs `signal` with the pidfd while the handle still owns it and the child is not known to
    /// be reaped; under the lock, so that no release can slip in between the check and the
    /// signal.
    private func signalUnlessReleased(_ signal: (Int32) throws(ReactorError) -> Void) throws(ReactorError) {
        let pidfd = core.fd
        let pid = self.pid
        try exitState.withLock { state throws(ReactorError) in
            if state.status != nil { return }
            guard !state.released else {
                throw ReactorError(.closed, operation: "signal", detail: "the handle of child \(pid) was closed")
            }
            try signal(pidfd)
        }
    }

    /// Marks the pidfd as no longer this handle's to signal through (see ``ExitState/released``).
    private func release() {
        exitState.withLock { $0.released = true }
    }

    /// Sends `signal` to the child's whole process group (it and the processes it started), and to
    /// the child itself through its pidfd, which reaches it even after it moved to another group.
    /// No effect once the child has been reaped: its group ID could name someone else's group by
    /// then.
    ///
    /// - Throws: the failure of the signal to the child itself; the group's is ignored (the group
    ///   is empty once the child left it and started nothing). `closed` once the handle was
    ///   closed without having seen the exit, as ``send(signal:)``: the group ID may be
    ///   recycled by then.
    public func sendToProcessGroup(signal: Int32) throws(ReactorError) {
        guard leadsProcessGroup else { return try send(signal: signal) }
        let pid = self.pid
        try signalUnlessReleased { pidfd throws(ReactorError) in
            _ = try? syscall("kill process group") { kill(-pid, signal) }
            try Self.signal(pidfd, signal)
        }
    }

    /// Closes the handle. A child already reaped (``exitStatus`` is known) has its pidfd closed
    /// now; a child not yet reaped keeps running, and the reactor takes its pidfd over, reaps it
    /// when it exits and closes the pidfd then (or kills and reaps it at ``Reactor/shutdown()``).
    public func close() async throws {
        try await reactor.withLoop { loop in
            self.release()
            if self.exitStatus != nil {
                try await self.core.close(loop: loop)
            } else {
                OrphanedChild.adopt(self.core, pid: self.pid, leadsProcessGroup: self.leadsProcessGroup, loop: loop)
            }
        }
    }

    /// Lets the child run on without this handle or the reactor's shutdown ending it: as
    /// ``close()``, except that ``Reactor/shutdown()`` only closes its pidfd instead of killing
    /// it. While the reactor runs it still reaps the child when it exits; after this process
    /// exits, init (or a subreaper) does. For a plugin that must outlive its first host.
    public func detach() async throws {
        try await reactor.withLoop { loop in
            self.release()
            if self.exitStatus != nil {
                try await self.core.close(loop: loop)
            } else {
                OrphanedChild.adopt(
                    self.core, pid: self.pid, leadsProcessGroup: self.leadsProcessGroup, killAtShutdown: false,
                    loop: loop)
            }
        }
    }
}

/// Calls `body` with a NULL-terminated `char *[]` of `strings`, valid during the call.
private func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    let pointers: [UnsafeMutablePointer<CChar>?] = unsafe strings.map { unsafe strdup($0) } + [nil]
    defer { unsafe pointers.forEach { unsafe free($0) } }
    return unsafe pointers.withUnsafeBufferPointer { unsafe body($0.baseAddress!) }
}
