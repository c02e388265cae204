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

    /// Writes out what C stdio holds in its buffers for every output stream (`fflush(NULL)`).
    /// Swift's `print` goes through C stdio, which buffers fully when stdout is a pipe: a plugin
    /// calls this before it moves fd 1 elsewhere, or its earlier output would be written late, to
    /// wherever fd 1 then points, or never.
    public static func flushStandardStreams() {
        fflush(nil)
    }
}

extension ProcessControl {
    /// Points this process's stdout and stderr at new pipes and returns their read ends: a plugin
    /// forwards what it (and anything it starts) prints to its host this way. stdout becomes line
    /// buffered and stderr unbuffered, so a `print` arrives when its line ends, not at exit.
    /// Each pipe holds up to ``standardStreamPipeBytes``: code on the reactor thread (RPC handlers
    /// are) must not write more than that in one go, or it blocks the thread that drains it.
    ///
    /// The original stderr stays open for the rest of the process's life (a close-on-exec
    /// duplicate), so the text a dying process writes still reaches whoever reads it: on a fatal
    /// signal (SIGILL, SIGTRAP, SIGABRT, SIGSEGV, SIGBUS, SIGFPE) and at `exit`, what is unread in
    /// the stderr pipe is copied to the original stderr and fd 2 points back at it, before the
    /// signal goes on to the handler that was installed before (the Swift runtime's backtracer,
    /// which then writes its crash report to the original stderr too) or kills the process. See
    /// also ``restoreStandardError()``.
    public static func redirectStandardOutputAndError(on reactor: Reactor) throws(ReactorError)
        -> (standardOutput: PipeReader, standardError: PipeReader)
    {
        let original = try syscall("fcntl F_DUPFD_CLOEXEC") { fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3) }
        var pipes: [PipeReader] = []
        var originalHandedOver = false
        do throws(ReactorError) {
            let outputPipe = try redirect(STDOUT_FILENO, on: reactor)
            pipes.append(outputPipe)
            let errorPipe = try redirect(STDERR_FILENO, on: reactor)
            pipes.append(errorPipe)
            let pipeRead = try syscall("fcntl F_DUPFD_CLOEXEC") {
                fcntl(errorPipe.fileDescriptor.rawValue, F_DUPFD_CLOEXEC, 3)
            }
            // Both descriptors are the crash state's from here on, whatever the result.
            originalHandedOver = true
            guard tether_crash_text_keep(original, pipeRead) == 0 else {
                throw ReactorError(
                    .system, operation: "sigaction",
                    detail: "the handler that keeps a crashing process's stderr text could not be installed")
            }
            tether_line_buffer_standard_streams()
            return (outputPipe, errorPipe)
        } catch {
            if !originalHandedOver { closeDescriptor(original) }
            let made = pipes
            Task { for pipe in made { try? await pipe.close() } }
            throw error
        }
    }

    /// Points fd 2 back at the original stderr after copying to it what is still unread in the
    /// pipe of ``redirectStandardOutputAndError(on:)``: for a plugin that stops forwarding its
    /// stderr (its session is over) but keeps running. No effect before a redirection.
    public static func restoreStandardError() {
        tether_crash_text_restore()
    }

    /// Capacity asked for the stdout and stderr pipes of ``redirectStandardOutputAndError(on:)``.
    public static let standardStreamPipeBytes: Int32 = 256 << 10

    private static func redirect(_ target: Int32, on reactor: Reactor) throws(ReactorError) -> PipeReader {
        var fds: [Int32] = [-1, -1]
        _ = try unsafe fds.withUnsafeMutableBufferPointer { buffer throws(ReactorError) in
            try syscall("pipe2") { unsafe tether_pipe2(buffer.baseAddress!, O_CLOEXEC) }
        }
        // dup2 clears FD_CLOEXEC on the target, so children the plugin starts inherit it too.
        defer { closeDescriptor(fds[1]) }
        // The reactor drains the pipe, and RPC handlers run on the reactor thread: a handler that
        // prints more than the pipe holds would block in write(2) with no one left to read. 256
        // KiB makes that a 256 KiB burst, while 100 plugins stay within an unprivileged user's
        // pipe budget (pipe-user-pages-soft, 64 MiB: past it every new pipe of the user shrinks
        // to one page). If the kernel refuses, the pipe keeps its 64 KiB.
        _ = try? syscall("fcntl F_SETPIPE_SZ") { tether_set_pipe_capacity(fds[1], standardStreamPipeBytes) }
        do throws(ReactorError) {
            _ = try syscall("dup2") { dup2(fds[1], target) }
        } catch {
            closeDescriptor(fds[0])
            throw error
        }
        return PipeReader.adopting(FileDescriptor(rawValue: fds[0]), on: reactor)
    }
}

extension ProcessControl {
    /// This process's limit on open file descriptors (`RLIMIT_NOFILE`): `soft` is the one the
    /// kernel enforces (a descriptor past it fails with `EMFILE`), `hard` the most an unprivileged
    /// process may raise it to. `Int.max` stands for no limit.
    public static func openFileLimit() throws(ReactorError) -> (soft: Int, hard: Int) {
        var limit = rlimit()
        _ = try syscall("getrlimit RLIMIT_NOFILE") { unsafe getrlimit(openFiles, &limit) }
        return (Self.count(limit.rlim_cur), Self.count(limit.rlim_max))
    }

    /// Sets the soft limit on open file descriptors (see ``openFileLimit()``), keeping the hard
    /// one. Children started afterwards inherit it.
    ///
    /// - Throws: `EINVAL` (in a ``ReactorError``) for a soft limit above the hard one.
    public static func setOpenFileLimit(soft: Int) throws(ReactorError) {
        var limit = rlimit()
        _ = try syscall("getrlimit RLIMIT_NOFILE") { unsafe getrlimit(openFiles, &limit) }
        limit.rlim_cur = soft == Int.max ? rlim_t.max : rlim_t(max(0, soft))
        _ = try syscall("setrlimit RLIMIT_NOFILE") { unsafe setrlimit(openFiles, &limit) }
    }

    /// `RLIMIT_NOFILE` as the resource type glibc declares without `_GNU_SOURCE` (an `int`).
    /// (`RLIM_INFINITY` is all ones: `rlim_t.max`.)
    private static var openFiles: __rlimit_resource_t { __rlimit_resource_t(RLIMIT_NOFILE.rawValue) }

    private static func count(_ value: rlim_t) -> Int {
        value == rlim_t.max || value > rlim_t(Int.max) ? Int.max : Int(value)
    }
}
