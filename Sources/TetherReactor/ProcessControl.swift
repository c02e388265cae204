import CLibUring
import Glibc

/// Process-wide settings a plugin process makes for itself.
public enum ProcessControl {
    /// Asks the kernel to send `signal` to this process when its parent dies (`PR_SET_PDEATHSIG`),
    /// so a plugin does not outlive its host. If the parent is already gone (we were re-parented
    /// before the call took effect), exits at once with status 1.
    ///
    /// - Parameter expectedParent: the parent this process started with (`getppid()` at start).
    public static func dieWithParent(signal: Int32 = SIGKILL, expectedParent: Int32) throws(ReactorError) {
        _ = try syscall("prctl PR_SET_PDEATHSIG") { tether_set_parent_death_signal(signal) }
        if getppid() != expectedParent { exit(1) }
    }

    /// Ignores `SIGINT`: a Ctrl-C in the host's terminal reaches the whole foreground process
    /// group, and it is the host's to handle (it stops its plugins itself).
    public static func ignoreInterrupts() throws(ReactorError) {
        try ignore(signal: SIGINT)
    }

    /// Ignores `signal` in this process from now on.
    public static func ignore(signal: Int32) throws(ReactorError) {
        _ = try syscall("signal") { tether_ignore_signal(signal) }
    }

    /// The parent process's ID.
    public static var parentProcessID: Int32 { getppid() }
}
