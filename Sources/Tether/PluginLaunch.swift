import Glibc
import Logging
import Synchronization
import SystemPackage
import TetherMux
import TetherReactor

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One spawned plugin process and what the host holds for it (its output pipes, its socket
/// directory), from spawn to release: reading its output, explaining its exit, stopping it.
/// Used by ``PluginClient``.
///
/// Every wait here has a bound (`startTimeout` while starting, `shutdownGrace` afterwards), so
/// a plugin that hangs, stops reading or leaves its pipes to a process of its own costs the host
/// bounded time.
final class PluginLaunch: Sendable {
    let configuration: PluginClientConfiguration
    let reactor: Reactor
    let process: ChildProcess
    let socketDirectory: String
    /// The configured logger with this plugin's name and pid as metadata.
    let logger: Logger
    private let stdout: PipeReader
    private let stderr: PipeReader
    /// The last bytes of the plugin's stderr, from the pipe and from stream 5 alike.
    private let stderrTail: StderrTail
    /// Where each stderr line goes: the sink, then the logger as a record.
    private let stderrLines: @Sendable (String) -> Void
    /// Opens when the stderr pipe has reached its end (every process holding its write end is
    /// gone) and is closed. The plugin holds it for its whole life (see
    /// `ProcessControl.redirectStandardOutputAndError`), so its end comes with the exit.
    private let stderrPipeEnded = Latch()
    /// Lines of stdout already read past the handshake, and the partial line after them.
    private let stdoutState = Mutex<(lines: [String], splitter: LineSplitter)>(([], LineSplitter()))
    /// Once the session is up: the ends of the stdout pipe and of streams 3 and 5.
    private let forwarding = Mutex<Forwarding?>(nil)
    /// How the host is letting the plugin go, one way only, decided under this one lock: stopping
    /// (``stop(session:control:)``, ``kill(session:control:)``, ``abandon()``: its exit is
    /// expected from then on) or detaching (``detach(session:control:)``: it runs on).
    private let ending = Mutex(Ending.none)
    private enum Ending {
        case none, stopping, detaching
    }
    /// Opens when the first ``stop(session:control:)`` (or ``detach(session:control:)``) has
    /// finished.
    private let stopped = Latch()
    /// Set by ``detach(session:control:)``: the plugin runs on, and its socket directory (where
    /// it still listens) stays.
    private var detached: Bool { ending.withLock { $0 == .detaching } }
    /// The task of ``watchExit(session:)``, cancelled by ``detach(session:control:)``.
    private let exitWatcher = Mutex<Task<Void, Never>?>(nil)
    /// Set before the host sends the plugin SIGTERM or SIGKILL: a signal exit then counts as
    /// `killed` in the metrics, not as the plugin's own `signal`.
    private let signalledByHost = Mutex(false)
    private let metrics: PluginMetrics?

    /// The latches of the output the host forwards once the session is up.
    private struct Forwarding: Sendable {
        let stdoutPipe = Latch()
        let standardOutputStream = Latch()
        let standardErrorStream = Latch()
    }

    private init(
        configuration: PluginClientConfiguration, reactor: Reactor, process: ChildProcess, socketDirectory: String,
        stdout: PipeReader, stderr: PipeReader, metrics: PluginMetrics?
    ) {
        self.metrics = metrics
        self.configuration = configuration
        self.reactor = reactor
        self.process = process
        self.socketDirectory = socketDirectory
        self.stdout = stdout
        self.stderr = stderr
        let tail = StderrTail(limitBytes: configuration.stderrTailBytes)
        self.stderrTail = tail
        let named = configuration.namingLogger(pid: process.pid)
        self.logger = named(configuration.logger)
        let sink = Self.stderrLineHandler(
            sink: configuration.stderrSink, logger: named(configuration.pluginLogger ?? configuration.logger))
        self.stderrLines = sink
        let ended = stderrPipeEnded
        // The stderr pipe, read to its end for the plugin's whole life: everything before the
        // plugin moves fd 2 onto stream 5, what it writes while dying after that, and all of the
        // stderr of a plugin that never moves it (a Go plugin).
        Task(executorPreference: reactor) {
            var splitter = LineSplitter()
            await splitter.forward(from: { try await stderr.read() }, to: sink, observe: tail.append)
            try? await stderr.close()
            ended.open()
        }
    }

    /// Removes the socket directory if nothing did before (a client released without `stop()`
    /// whose reactor stopped before the stop finished), unless the plugin was detached.
    deinit {
        if !detached { try? FileManager.default.removeItem(atPath: socketDirectory) }
    }

    /// Hands a stderr line to `sink` and logs it as a record (not parsed when the logger would
    /// drop every level).
    static func stderrLineHandler(sink: @escaping @Sendable (String) -> Void, logger: Logger)
        -> @Sendable (String) -> Void
    {
        { line in
            sink(line)
            guard logger.logLevel <= .error else { return }
            let record = PluginLogRecord(parsing: line)
            logger.log(level: record.level, "\(record.message)", metadata: record.metadata)
        }
    }

    /// Checks the executable, makes the socket directory, spawns the plugin with its output on
    /// pipes. Nothing is left behind when it throws (every descriptor it made is closed by then).
    static func spawn(_ configuration: PluginClientConfiguration, on reactor: Reactor, metrics: PluginMetrics?)
        async throws -> PluginLaunch
    {
        let executable = configuration.executable
        // Follows symbolic links: a link to nothing does not exist, a link to a directory is one.
        var isDirectory = false
        guard FileManager.default.fileExists(atPath: executable, isDirectory: &isDirectory) else {
            throw PluginError(.executableNotFound, "\(executable) does not exist")
        }
        guard !isDirectory, FileManager.default.isExecutableFile(atPath: executable) else {
            throw PluginError(.notExecutable, "\(executable) is not an executable file")
        }
        // A verified binary runs from a sealed copy of the bytes verified: never from the path
        // again. Reading and checking the whole binary blocks: off the reactor's thread.
        let sealed: SealedExecutable?
        if let cache = configuration.verifiedBinaries {
            sealed = try await Task.detached { () throws(PluginError) in try cache.sealedCopy(of: executable) }.value
        } else if let verifier = configuration.verifier {
            sealed = try await Task.detached { () throws(PluginError) in
                try sealedVerifiedCopy(of: executable, verifier: verifier)
            }.value
        } else {
            sealed = nil
        }
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent(
                "tether-\(ProcessInfo.processInfo.processIdentifier)-\(UInt64.random(in: 0...UInt64.max))"
            )
            .path
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        } catch {
            throw PluginError(.launchFailed, "socket directory \(directory): \(error)")
        }
        if let group = configuration.unixSocketGroup,
            let problem = SocketGroup.problemGranting(directory, to: group, mode: 0o770)
        {
            try? FileManager.default.removeItem(atPath: directory)
            throw problem
        }
        var environment = configuration.inheritEnvironment ? ProcessInfo.processInfo.environment : [:]
        // A host that is itself a plugin (built-in, reattachable, in debug mode) does not pass
        // that role on to its plugins: the configuration alone says what they are.
        for role in [
            PluginServer.builtInPluginVariable, PluginEnvironment.reattachableVariable, PluginEnvironment.debugVariable,
        ] {
            environment.removeValue(forKey: role)
        }
        environment.merge(configuration.environment) { _, new in new }
        environment.merge(
            PluginEnvironment.hostVariables(
                handshake: configuration.handshake, unixSocketDirectory: directory,
                hostProcessID: ProcessInfo.processInfo.processIdentifier, network: configuration.network,
                unixSocketGroup: configuration.unixSocketGroup, reattachable: configuration.reattachable)
        ) {
            _, new in new
        }
        var readers: [PipeReader] = []
        var writers: [PipeWriter] = []
        var step = "making the stdout pipe"
        do {
            let (stdout, stdoutWriter) = try reactor.makePipe()
            readers.append(stdout)
            writers.append(stdoutWriter)
            step = "making the stderr pipe"
            let (stderr, stderrWriter) = try reactor.makePipe()
            readers.append(stderr)
            writers.append(stderrWriter)
            step = "spawning the plugin"
            // The sealed copy's descriptor must stay open until the child has exec'd it
            // (`posix_spawn` returns after that): its path names it through this process.
            let process = try withExtendedLifetime(sealed) { () throws(ReactorError) in
                try ChildProcess.spawn(
                    executable: sealed?.path ?? executable, arguments: configuration.arguments,
                    environment: environment.map { "\($0.key)=\($0.value)" },
                    files: [
                        .init(stdoutWriter.fileDescriptor, as: .standardOutput),
                        .init(stderrWriter.fileDescriptor, as: .standardError),
                    ],
                    newProcessGroup: true, programName: executable, on: reactor)
            }
            metrics?.launched()
            // The plugin has its copies of the write ends; ours would keep the pipes from ending.
            await close(readers: [], writers: writers)
            return PluginLaunch(
                configuration: configuration, reactor: reactor, process: process, socketDirectory: directory,
                stdout: stdout, stderr: stderr, metrics: metrics)
        } catch {
            await close(readers: readers, writers: writers)
            try? FileManager.default.removeItem(atPath: directory)
            if let exhausted = PluginError.descriptorsExhausted(error, while: step) { throw exhausted }
            throw PluginError(.launchFailed, "\(executable): \(error)")
        }
    }

    /// Reads `executable` once, has `verifier` check the bytes read, and copies them into a sealed
    /// in-memory file, which runs in the path's place: what runs is what was verified, whatever
    /// happens to the file. Only ELF executables: a script's interpreter would open the
    /// sealed copy by its path after the exec, and is not checked itself. Blocks (reads the
    /// whole binary): not on a reactor's thread.
    static func sealedVerifiedCopy(of executable: String, verifier: any PluginBinaryVerifier)
        throws(PluginError) -> SealedExecutable
    {
        let limit = PluginClientConfiguration.maximumVerifiedBinaryBytes
        let bytes: [UInt8]
        do {
            switch try BlockingIO.readRegularFile(executable, maximumBytes: limit) {
            case .bytes(let contents): bytes = contents
            case .notRegularFile:
                throw PluginError(.notExecutable, "\(executable) is not a regular file; a verified plugin must be one")
            case .tooLarge(let size):
                throw PluginError(
                    .verificationFailed,
                    "\(executable) holds \(size) bytes or more, larger than the \(limit) a verified binary may have")
            }
        } catch let error as PluginError {
            throw error
        } catch {
            throw PluginError(.launchFailed, "reading \(executable) to verify it: \(error)")
        }
        guard bytes.starts(with: [0x7F, 0x45, 0x4C, 0x46]) else {
            throw PluginError(
                .verificationFailed,
                "\(executable) is not an ELF executable (a script's interpreter would run unchecked); verify an ELF binary"
            )
        }
        try verifier.verify(bytes, path: executable)
        do {
            return try SealedExecutable(bytes: bytes, name: URL(fileURLWithPath: executable).lastPathComponent)
        } catch {
            if let exhausted = PluginError.descriptorsExhausted(error, while: "making a sealed copy of \(executable)") {
                throw exhausted
            }
            throw PluginError(.launchFailed, "a sealed copy of \(executable): \(error)")
        }
    }

    /// Closes pipe ends; also in a cancelled task (the caller's may be), where a handle's close
    /// still closes its descriptor.
    private static func close(readers: [PipeReader], writers: [PipeWriter]) async {
        for reader in readers { try? await reader.close() }
        for writer in writers { try? await writer.close() }
    }

    /// Reads stdout until the handshake line; earlier lines go to the stdout sink. When stdout
    /// ends first, waits for the exit and throws `exitedBeforeHandshake` with the status and
    /// the stderr tail, or `cookieMismatch` for a plugin that refused the cookie (its status and
    /// its explanation on stderr). The caller's deadline bounds it (cancelling it throws
    /// `CancellationError`).
    func readHandshake() async throws -> String {
        var splitter = LineSplitter()
        let sink = configuration.stdoutSink
        while true {
            let slice: BufferSlice?
            do {
                slice = try await stdout.read()
            } catch {
                try Task.checkCancellation()
                slice = nil  // a read error: as good as the end
            }
            guard let slice else { break }
            var lines = splitter.append(slice.bytes)[...]
            while let line = lines.popFirst() {
                guard HandshakeLine.looksLikeHandshake(Substring(line)) else {
                    sink(line)
                    continue
                }
                stdoutState.withLock { $0 = (Array(lines), splitter) }
                return line
            }
        }
        if let last = splitter.finish() {
            // A handshake without its newline, cut off by the exit: still report what it said.
            if HandshakeLine.looksLikeHandshake(Substring(last)) { return last }
            sink(last)
        }
        let status = try await process.waitForExit()
        // A process the plugin started may hold stderr open: the tail is what came within a grace.
        await waitForStderrEnd(within: configuration.shutdownGrace)
        // Status 78 alone could be the plugin's own (EX_CONFIG is common): the refusal's text
        // must be there too.
        if status == .exited(code: PluginServer.cookieMismatchExitStatus),
            stderrTail.text.contains(PluginEnvironment.cookieRefusal)
        {
            let key = configuration.handshake.cookieKey
            throw PluginError(
                .cookieMismatch,
                """
                \(configuration.executable) refused the host's magic cookie \(key) (it exited with status \
                \(PluginServer.cookieMismatchExitStatus) before its handshake): host and plugin were built with \
                different handshake configurations, or it is not a plugin of this host
                """)
        }
        throw PluginError(
            .exitedBeforeHandshake, "\(configuration.executable) \(status) before its handshake" + stderrTailSuffix)
    }

    private var stderrTailSuffix: String { stderrTail.suffix }

    /// After the handshake: the rest of the stdout pipe, then what the plugin writes to fds 1 and 2
    /// once it forwards them over streams 3 and 5, go to the sinks as it comes.
    func forwardOutputAfterHandshake(streams: PluginStreams) {
        let (lines, splitter) = stdoutState.withLock { $0 }
        let stdoutSink = configuration.stdoutSink
        let stderrSink = self.stderrLines
        let tail = stderrTail
        let stdout = self.stdout
        for line in lines { stdoutSink(line) }
        let ends = Forwarding()
        forwarding.withLock { $0 = ends }
        Task(executorPreference: reactor) {
            var splitter = splitter
            await splitter.forward(from: { try await stdout.read() }, to: stdoutSink)
            // The plugin moved its stdout to stream 3 (or exited): the pipe's fd is not needed.
            try? await stdout.close()
            ends.stdoutPipe.open()
        }
        let output = streams.standardOutput
        Task(executorPreference: reactor) {
            var splitter = LineSplitter()
            await splitter.forward(from: { try await output.read() }, to: stdoutSink)
            ends.standardOutputStream.open()
        }
        let error = streams.standardError
        Task(executorPreference: reactor) {
            var splitter = LineSplitter()
            await splitter.forward(from: { try await error.read() }, to: stderrSink, observe: tail.append)
            ends.standardErrorStream.open()
        }
    }

    /// Waits at most `bound` for the plugin's stderr to end on both routes (the pipe, and
    /// stream 5 once the session is up), so that its tail is complete.
    private func waitForStderrEnd(within bound: Duration) async {
        await waitForEnds(within: bound) { [$0?.standardErrorStream] }
    }

    /// Waits at most `bound` for every output route to end (pipes and streams).
    private func waitForOutputEnd(within bound: Duration) async {
        await waitForEnds(within: bound) { [$0?.stdoutPipe, $0?.standardOutputStream, $0?.standardErrorStream] }
    }

    /// Waits at most `bound` for the stderr pipe and the routes `routes` picks to end.
    private func waitForEnds(within bound: Duration, _ routes: (Forwarding?) -> [Latch?]) async {
        let latches = [stderrPipeEnded] + routes(forwarding.withLock { $0 })
        _ = try? await reactor.withDeadline(bound) {
            for latch in latches { try await latch?.waitUnlessCancelled() }
        }
    }

    /// The exit status if the process ends within `duration`, else nil (it keeps running).
    func waitForExit(within duration: Duration) async -> ExitStatus? {
        let process = self.process
        return try? await reactor.withDeadline(duration) { try await process.waitForExit() }
    }

    /// Why calls fail once the plugin has exited (for ``RPCConfiguration/explainConnectionLoss``):
    /// its exit status and the tail of its stderr (read to its end first, within
    /// `shutdownGrace`).
    func exitExplanation() async -> (any Error)? {
        guard let status = await waitForExit(within: .milliseconds(200)) else { return nil }
        await waitForStderrEnd(within: configuration.shutdownGrace)
        return PluginError(.pluginExited, "the plugin \(status)" + stderrTailSuffix)
    }

    /// Watches for the exit while the plugin runs: logs it, and when nobody asked the plugin to
    /// stop, one error record with the exit status and the stderr tail; then closes the session
    /// (calls in flight fail at once even if another process keeps the plugin's socket open).
    func watchExit(session: MuxSession) {
        let watcher = Task(executorPreference: reactor) { [self] in
            let status = try? await process.waitForExit()
            // Cancelled by a detach: a detached plugin's exit is the next host's to report.
            if Task.isCancelled { return }
            let expected = ending.withLock { $0 != .none }
            if let status { countExit(status, expected: expected) }
            logger.debug("plugin exited", metadata: ["plugin.exit": "\(status.map { "\($0)" } ?? "unknown")"])
            if let status, !expected {
                await waitForStderrEnd(within: configuration.shutdownGrace)
                logger.error(
                    "plugin exited unexpectedly: \(status)\(stderrTailSuffix)",
                    metadata: ["plugin.exit": "\(status)"])
            }
            Task(executorPreference: reactor) { await session.close() }
        }
        exitWatcher.withLock { $0 = watcher }
    }

    // MARK: Stopping

    /// Stops the plugin and releases everything; the first call does it (in a task of its own, so
    /// cancelling a caller changes nothing), every call returns when it is done.
    ///
    /// The grace period bounds the graceful part: the session closes (the plugin's quit request)
    /// and the plugin has `shutdownGrace` to exit; then SIGTERM to its process group and another
    /// grace; then SIGKILL to the group, whatever the session is doing. Then the process is
    /// reaped, the session's end and the output's end are waited for (each at most a grace: a
    /// process outside the group could hold the socket or the pipes), and descriptors and the
    /// socket directory are released.
    ///
    /// A reattachable plugin (``PluginClientConfiguration/reattachable``) outlives the end of a
    /// session, so it is first sent the quit request on the control stream.
    func stop(session: MuxSession?, control: ControlChannel?) async {
        beginStopping(session: session, control: control)
        await stopped.wait()
    }

    /// Starts ``stop(session:control:)`` without waiting for it: for a client released without
    /// `stop()`. The task holds this launch, the session and the control channel, nothing of the
    /// client.
    func beginStopping(session: MuxSession?, control: ControlChannel?) {
        let first = ending.withLock { ending in
            guard ending == .none else { return false }
            ending = .stopping
            return true
        }
        guard first else { return }
        escalateInTheBackground(session: session, control: control)
    }

    /// The stop's escalation in a task of its own, which opens `stopped` when done; once, by the
    /// one that set `ending` to stopping.
    private func escalateInTheBackground(session: MuxSession?, control: ControlChannel?) {
        var quit: (@Sendable () async -> Void)?
        if configuration.reattachable, let control { quit = { await control.requestQuit() } }
        Task(executorPreference: reactor) { [self] in
            await escalate(session: session, quit: quit)
            stopped.open()
        }
    }

    /// For a client released without `stop()`: the socket directory goes at once (the plugin has
    /// accepted; nothing uses it) unless the plugin was detached, and the plugin is stopped.
    func clientReleased(session: MuxSession, control: ControlChannel) {
        guard !detached else { return }
        try? FileManager.default.removeItem(atPath: socketDirectory)
        beginStopping(session: session, control: control)
    }

    /// Leaves a reattachable plugin running for the next host: closes the session (no quit
    /// request), the output pipes and the process handle (``ChildProcess/detach()``: a reactor
    /// shutdown does not kill it), and keeps the socket directory, where the plugin still
    /// listens. A plugin launched without ``PluginClientConfiguration/reattachable`` accepts no
    /// other host, so it is stopped instead. After a stop has begun it waits for that stop.
    func detach(session: MuxSession, control: ControlChannel) async {
        guard configuration.reattachable else { return await stop(session: session, control: control) }
        let first = ending.withLock { ending in
            guard ending == .none else { return false }
            ending = .detaching
            return true
        }
        guard first else { return await stopped.wait() }
        exitWatcher.withLock { $0 }?.cancel()
        Task(executorPreference: reactor) { [self] in
            await SessionClosing(session, on: reactor).wait(within: configuration.shutdownGrace, on: reactor)
            // The plugin keeps its original stderr (the crash text's route) while it lives: the
            // pipes do not end, so they are closed, which ends their reads.
            try? await stdout.close()
            try? await stderr.close()
            try? await process.detach()
            logger.debug("detached from the plugin; it keeps running")
            stopped.open()
        }
        await stopped.wait()
    }

    /// SIGKILL to the process group now, then the rest of ``stop(session:control:)``: the graceful
    /// steps find the plugin gone and pass at once. During a stop already under way it cuts that
    /// stop's grace short. During or after ``detach(session:control:)`` it does nothing: a
    /// detached plugin belongs to the next host.
    func kill(session: MuxSession?, control: ControlChannel?) async {
        // Decided under the one lock: a detach under way keeps the plugin running; otherwise this
        // is a stop (begun here or already), so the exit is expected by the time the watcher
        // sees it.
        let claim = ending.withLock { ending -> Bool? in
            switch ending {
            case .detaching: return nil
            case .stopping: return false
            case .none:
                ending = .stopping
                return true
            }
        }
        guard let claim else { return await stopped.wait() }
        if claim { escalateInTheBackground(session: session, control: control) }
        signalledByHost.withLock { $0 = true }
        try? process.sendToProcessGroup(signal: SIGKILL)
        await stopped.wait()
    }

    private func escalate(session: MuxSession?, quit: (@Sendable () async -> Void)?) async {
        await escalation.run(session: session, quit: quit)
        await release()
    }

    /// The stop's steps for a child: signals to its process group (and itself), counted as the
    /// host's; its exit seen through its pidfd.
    private var escalation: StopEscalation {
        StopEscalation(
            grace: configuration.shutdownGrace, reactor: reactor, logger: logger, target: "its process group",
            exited: { [self] bound in await waitForExit(within: bound) != nil },
            signal: { [self] signal in
                signalledByHost.withLock { $0 = true }
                try? process.sendToProcessGroup(signal: signal)
            })
    }

    /// Kills the process (its whole group) and releases everything: for a failed start. Run it in
    /// a task that is not cancelled (the caller's may be).
    func abandon() async {
        ending.withLock { if $0 == .none { $0 = .stopping } }
        await escalation.kill()
        if let status = process.exitStatus { countExit(status, expected: true) }
        await release()
    }

    /// Counts the exit in the metrics: `killed` when it was the host's signal that ended it.
    private func countExit(_ status: ExitStatus, expected: Bool) {
        metrics?.exited(status, signalledByHost: signalledByHost.withLock { $0 }, expected: expected)
    }

    /// Waits (within a grace) for the output to end, then closes the pipes and the process
    /// handle and removes the socket directory. The process must have been reaped.
    private func release() async {
        await waitForOutputEnd(within: configuration.shutdownGrace)
        // Closing a pipe ends a read still waiting on it (another process held its write end).
        try? await stdout.close()
        try? await stderr.close()
        try? await process.close()
        try? FileManager.default.removeItem(atPath: socketDirectory)
    }
}

/// The last bytes the plugin wrote to stderr, for error messages.
final class StderrTail: Sendable {
    private let bytes = Mutex<[UInt8]>([])
    let limitBytes: Int

    init(limitBytes: Int) {
        self.limitBytes = limitBytes
    }

    func append(_ new: [UInt8]) {
        bytes.withLock { bytes in
            bytes += new
            if bytes.count > limitBytes { bytes.removeFirst(bytes.count - limitBytes) }
        }
    }

    /// "; stderr: …" with the last stderr bytes, or nothing when the plugin wrote none: the end
    /// of the errors and records that explain an exit.
    var suffix: String {
        let text = self.text
        return text.isEmpty ? "" : "; stderr: \(text)"
    }

    var text: String {
        let text = String(decoding: bytes.withLock { $0 }, as: UTF8.self)
        guard let first = text.firstIndex(where: { !$0.isWhitespace }),
            let last = text.lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(text[first...last])
    }
}
