import CLibUring
import Glibc

/// The ends of a child process that its handle no longer covers.
enum ChildReaping {
    /// Ends the child behind `pidfd` and reaps it, blocking until it is gone: `SIGKILL` to its
    /// process group when it leads one (so its own children die too), and to the child itself,
    /// then `waitid(P_PIDFD, …, WEXITED)`. Nothing happens if it was reaped already: its pid, and
    /// so its group ID, may name someone else's process by then.
    static func killAndReap(pidfd: Int32, pid: Int32, leadsProcessGroup: Bool) {
        var info = unsafe siginfo_t()
        // WNOWAIT: look without reaping. Success (running or a zombie) means the pid is still
        // ours; ECHILD means it was reaped already.
        do throws(ReactorError) {
            _ = try syscall("waitid") { unsafe waitid(P_PIDFD, id_t(pidfd), &info, WEXITED | WNOHANG | WNOWAIT) }
        } catch {
            return
        }
        // Either signal may find the process gone (ESRCH): nothing is left to end then.
        if leadsProcessGroup { _ = try? syscall("kill process group") { kill(-pid, SIGKILL) } }
        _ = try? syscall("pidfd_send_signal") { tether_pidfd_send_signal(pidfd, SIGKILL) }
        _ = try? syscall("waitid") { unsafe waitid(P_PIDFD, id_t(pidfd), &info, WEXITED) }
    }
}

/// A child whose handle was dropped or closed before the child was reaped: the loop owns its
/// pidfd and keeps a `waitid` on it in flight, so the child is reaped when it exits (it is not
/// killed for being let go). Registered as an open handle: a reactor shutdown kills and reaps
/// it (``ChildReaping/killAndReap(pidfd:pid:leadsProcessGroup:)``), unless it was detached
/// (``ChildProcess/detach()``): a shutdown then only closes its pidfd, and the child outlives
/// this process (re-parented to init or a subreaper). Reactor thread only.
final class OrphanedChild: LoopHandle, OperationCallback {
    let pidfd: Int32
    let pid: Int32
    let leadsProcessGroup: Bool
    /// False for a detached child: a shutdown leaves it running.
    let killAtShutdown: Bool
    private var closed = false

    private init(pidfd: Int32, pid: Int32, leadsProcessGroup: Bool, killAtShutdown: Bool) {
        self.pidfd = pidfd
        self.pid = pid
        self.leadsProcessGroup = leadsProcessGroup
        self.killAtShutdown = killAtShutdown
    }

    /// Takes the pidfd from `core` (a child's handle) and watches the child from the loop.
    /// No effect if the handle was closed already.
    static func adopt(
        _ core: HandleCore, pid: Int32, leadsProcessGroup: Bool, killAtShutdown: Bool = true, loop: EventLoop
    ) {
        guard let pidfd = core.releaseDescriptor(loop: loop) else { return }
        OrphanedChild(pidfd: pidfd, pid: pid, leadsProcessGroup: leadsProcessGroup, killAtShutdown: killAtShutdown)
            .watch(loop: loop)
    }

    private func watch(loop: EventLoop) {
        loop.openHandles[ObjectIdentifier(self)] = self
        // Nil while shutting down (`closeForShutdown` ends it) or with every slot in use: it then
        // stays registered and is reaped at shutdown at the latest.
        _ = loop.start(.waitForExit(pidfd: pidfd), target: .callback(self))
    }

    func operationCompleted(_ completion: Completion, loop: EventLoop) {
        switch completion.decodeExit("waitid", CompletionContext(shuttingDown: loop.stopping)) {
        case .failure(.retry), .failure(.cancelled):
            watch(loop: loop)
        case .failure(.failed(let error)) where error.code == .shutDown:
            return  // `closeForShutdown` kills and reaps it
        case .success, .failure(.failed):
            // Reaped, or ECHILD: a waiter on the handle's own `waitid` reaped it first.
            loop.openHandles[ObjectIdentifier(self)] = nil
            closePidfd()
        }
    }

    func closeForShutdown() {
        guard !closed else { return }
        if killAtShutdown {
            ChildReaping.killAndReap(pidfd: pidfd, pid: pid, leadsProcessGroup: leadsProcessGroup)
        }
        closePidfd()
    }

    private func closePidfd() {
        guard !closed else { return }
        closed = true
        closeDescriptor(pidfd)
    }
}
