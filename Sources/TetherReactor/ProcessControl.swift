import CLibUring
import Glibc
import SystemPackage

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

extension ProcessControl {
    /// Points this process's stdout and stderr at new pipes and returns their read ends: a plugin
    /// forwards what it (and anything it starts) prints to its host this way. stdout becomes line
    /// buffered and stderr unbuffered, so a `print` arrives when its line ends, not at exit.
    /// Each pipe holds up to ``standardStreamPipeBytes``: code on the reactor thread (RPC handlers
    /// are) must not write more than that in one go, or it blocks the thread that drains it.
    public static func redirectStandardOutputAndError(on reactor: Reactor) throws(ReactorError)
        -> (standardOutput: PipeReader, standardError: PipeReader)
    {
        let output = try redirect(STDOUT_FILENO, on: reactor)
        do {
            let error = try redirect(STDERR_FILENO, on: reactor)
            tether_line_buffer_standard_streams()
            return (output, error)
        } catch {
            Task { try? await output.close() }
            throw error
        }
    }

    /// Capacity asked for the stdout and stderr pipes of ``redirectStandardOutputAndError(on:)``.
    public static let standardStreamPipeBytes: Int32 = 256 << 10

    private static func redirect(_ target: Int32, on reactor: Reactor) throws(ReactorError) -> PipeReader {
        var fds: [Int32] = [-1, -1]
        _ = try unsafe fds.withUnsafeMutableBufferPointer { buffer throws(ReactorError) in
            try syscall("pipe2") { unsafe tether_pipe2(buffer.baseAddress!, O_CLOEXEC) }
        }
        // dup2 clears FD_CLOEXEC on the target, so children the plugin starts inherit it too.
        defer { Glibc.close(fds[1]) }
        // The reactor drains the pipe, and RPC handlers run on the reactor thread: a handler that
        // prints more than the pipe holds would block in write(2) with no one left to read. 256
        // KiB makes that a 256 KiB burst, while 100 plugins stay within an unprivileged user's
        // pipe budget (pipe-user-pages-soft, 64 MiB: past it every new pipe of the user shrinks
        // to one page). If the kernel refuses, the pipe keeps its 64 KiB.
        _ = tether_set_pipe_capacity(fds[1], standardStreamPipeBytes)
        do throws(ReactorError) {
            _ = try syscall("dup2") { dup2(fds[1], target) }
        } catch {
            Glibc.close(fds[0])
            throw error
        }
        return PipeReader.adopting(FileDescriptor(rawValue: fds[0]), on: reactor)
    }
}
