import Glibc
import Logging
import TetherMux
import TetherReactor

/// The graceful stop every plugin gets, launched or reattached to: the quit request (`quit`, if
/// any, then the session's close), `grace` to exit; SIGTERM and another grace; SIGKILL and a
/// last grace; then the session's end, waited for at most a grace (a process that inherited the
/// plugin's socket could keep it open). How the plugin is signalled (its process group, or its
/// pidfd only) and how its exit is seen are the caller's.
struct StopEscalation {
    let grace: Duration
    let reactor: Reactor
    let logger: Logger
    /// What the log calls the signal's target ("its process group", "it").
    let target: String
    /// Waits at most the duration for the exit; true once the plugin has exited.
    let exited: (Duration) async -> Bool
    let signal: (Int32) -> Void

    func run(session: MuxSession?, quit: (@Sendable () async -> Void)?) async {
        // The quit request, not awaited before the grace starts (see `SessionClosing`).
        let closing = SessionClosing(session, on: reactor, after: quit, waitingUpTo: grace)
        if await !exited(grace) {
            logger.info("plugin did not quit within the grace period; sending SIGTERM to \(target)")
            signal(SIGTERM)
            if await !exited(grace) {
                logger.info("plugin ignored SIGTERM; sending SIGKILL to \(target)")
                await kill()
            }
        }
        await closing.wait(within: grace, on: reactor)
    }

    /// SIGKILL and a grace for the exit. SIGKILL cannot be caught or ignored, but a process in
    /// uninterruptible sleep dies only when the sleep ends: the wait gives up after the grace.
    func kill() async {
        signal(SIGKILL)
        if await !exited(grace) {
            logger.error("plugin did not exit within the grace period after SIGKILL")
        }
    }
}
