import Glibc
import Logging
import Synchronization
import TetherMux
import TetherReactor

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A running plugin a host reattached to (``PluginClient/reattach(_:configuration:on:)``): the
/// process is not the host's child, so there are no pipes and no reaping; the host watches it
/// through a pidfd (its exit makes the pidfd readable) and signals it only through that pidfd.
/// Its stdout and stderr come over streams 3 and 5, as they do after a launch's handshake.
final class PluginAttachment: Sendable {
    let configuration: PluginClientConfiguration
    let reattach: ReattachConfiguration
    let reactor: Reactor
    let process: AttachedProcess
    let logger: Logger
    private let stderrTail: StderrTail
    private let stderrLines: @Sendable (String) -> Void
    /// Opens when stream 5 has ended (once forwarding runs).
    private let stderrEnded = Mutex<Latch?>(nil)
    private let stopRequested = Mutex(false)
    /// Set once the host has seen the process end (its pidfd readable).
    private let exitSeen = Mutex(false)
    private let stopped = Latch()

    init(
        configuration: PluginClientConfiguration, reattach: ReattachConfiguration, process: AttachedProcess,
        reactor: Reactor
    ) {
        self.configuration = configuration
        self.reattach = reattach
        self.reactor = reactor
        self.process = process
        let named = configuration.namingLogger(pid: process.pid)
        self.logger = named(configuration.logger)
        self.stderrTail = StderrTail(limitBytes: configuration.stderrTailBytes)
        self.stderrLines = PluginLaunch.stderrLineHandler(
            sink: configuration.stderrSink, logger: named(configuration.pluginLogger ?? configuration.logger))
    }

    /// Streams 3 and 5 to the sinks (and stderr to the log) as they come.
    func forwardOutput(streams: PluginStreams) {
        let stdoutSink = configuration.stdoutSink
        let stderrSink = stderrLines
        let tail = stderrTail
        let output = streams.standardOutput
        let error = streams.standardError
        let ended = Latch()
        stderrEnded.withLock { $0 = ended }
        Task(executorPreference: reactor) {
            var splitter = LineSplitter()
            await splitter.forward(from: { try await output.read() }, to: stdoutSink)
        }
        Task(executorPreference: reactor) {
            var splitter = LineSplitter()
            await splitter.forward(from: { try await error.read() }, to: stderrSink, observe: tail.append)
            ended.open()
        }
    }

    /// Watches for the exit (the pidfd becomes readable): logs it, one error record when nobody
    /// asked the plugin to stop, and closes the session. Ends when the handle is closed.
    func watchExit(session: MuxSession) {
        Task(executorPreference: reactor) { [self] in
            guard (try? await process.waitForExit()) != nil else { return }
            exitSeen.withLock { $0 = true }
            logger.debug("plugin exited (not this host's child: its status is unknown)")
            if !stopRequested.withLock({ $0 }) {
                await waitForStderrEnd(within: configuration.shutdownGrace)
                logger.error("reattached plugin exited unexpectedly\(stderrTailSuffix)")
            }
            Task(executorPreference: reactor) { await session.close() }
        }
    }

    private var stderrTailSuffix: String { stderrTail.suffix }

    private func waitForStderrEnd(within bound: Duration) async {
        guard let latch = stderrEnded.withLock({ $0 }) else { return }
        _ = try? await reactor.withDeadline(bound) { try await latch.waitUnlessCancelled() }
    }

    /// True when the process ends within `duration`.
    func waitForExit(within duration: Duration) async -> Bool {
        let process = self.process
        return (try? await reactor.withDeadline(duration) { try await process.waitForExit() }) != nil
    }

    /// Waits for the exit, then throws `exitStatusUnknown`: a process that is not our child
    /// cannot be reaped, so its status is not ours to read.
    func waitForExit() async throws -> ExitStatus {
        if !exitSeen.withLock({ $0 }) {
            do {
                try await process.waitForExit()
            } catch {
                // The pidfd closed (a stop) after the process was seen to end: still its end.
                guard exitSeen.withLock({ $0 }) else { throw error }
            }
        }
        throw exitedError(.exitStatusUnknown)
    }

    private func exitedError(_ code: PluginError.Code) -> PluginError {
        PluginError(
            code,
            "the reattached plugin \(process.pid) exited; it is not this host's child, so its exit status is unknown"
                + stderrTailSuffix)
    }

    /// Why calls fail once the plugin has exited: `pluginExited`, with the stderr tail.
    func exitExplanation() async -> (any Error)? {
        guard await waitForExit(within: .milliseconds(200)) else { return nil }
        await waitForStderrEnd(within: configuration.shutdownGrace)
        return exitedError(.pluginExited)
    }

    // MARK: Stopping

    /// Ends the plugin: the quit request and the session's close, `shutdownGrace` to exit;
    /// SIGTERM through the pidfd and another grace; SIGKILL through the pidfd and a last grace.
    /// Only the process itself is signalled (never a pid or a process group: the pid could have
    /// been given to another process). Then the pidfd is closed and, once the plugin is seen to
    /// have exited, its unix socket removed. A plugin served in debug mode
    /// (``ReattachConfiguration/debug``) is detached from instead.
    func stop(session: MuxSession, control: ControlChannel) async {
        if reattach.debug { return await detach(session: session) }
        begin { [self] in
            await escalation.run(session: session, quit: { await control.requestQuit() })
            await release()
        }
        await stopped.wait()
    }

    /// SIGKILL through the pidfd at once, then the release of ``stop(session:control:)``; also
    /// for a plugin in debug mode.
    func kill(session: MuxSession) async {
        begin { [self] in
            await escalation.kill()
            await SessionClosing(session, on: reactor).wait(within: configuration.shutdownGrace, on: reactor)
            await release()
        }
        await stopped.wait()
    }

    /// Closes the session without the quit request, and the pidfd: the plugin serves the next
    /// host.
    func detach(session: MuxSession) async {
        begin { [self] in
            await SessionClosing(session, on: reactor).wait(within: configuration.shutdownGrace, on: reactor)
            try? await process.close()
        }
        await stopped.wait()
    }

    /// A client released without `stop()`: the same as `stop()`, not waited for.
    func clientReleased(session: MuxSession, control: ControlChannel) {
        Task(executorPreference: reactor) { [self] in await stop(session: session, control: control) }
    }

    /// The stop's steps for a process that is not this host's child: signals through its pidfd
    /// only (never a pid or a group: the pid could be another process's by then).
    private var escalation: StopEscalation {
        StopEscalation(
            grace: configuration.shutdownGrace, reactor: reactor, logger: logger, target: "it",
            exited: { [self] bound in await waitForExit(within: bound) },
            signal: { [self] signal in try? process.send(signal: signal) })
    }

    /// Runs `work` in a task of its own the first time (a cancelled caller cuts nothing short);
    /// later calls wait for it.
    private func begin(_ work: @escaping @Sendable () async -> Void) {
        let first = stopRequested.withLock { requested in
            defer { requested = true }
            return !requested
        }
        guard first else { return }
        let stopped = self.stopped
        Task(executorPreference: reactor) {
            await work()
            stopped.open()
        }
    }

    /// Closes the pidfd; when the plugin has exited, removes the unix socket it left (checked to
    /// be its own when the host connected; a plugin killed by a signal cannot remove it) and
    /// the directory holding it when that is an empty `tether-…` socket directory.
    private func release() async {
        let exited = process.hasExited
        if exited { exitSeen.withLock { $0 = true } }
        try? await process.close()
        guard exited, reattach.network == HandshakeLine.Network.unix.rawValue else { return }
        let path = reattach.address
        if let type = try? FileManager.default.attributesOfItem(atPath: path)[.type] as? FileAttributeType,
            type == .typeSocket
        {
            try? FileManager.default.removeItem(atPath: path)
        }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        if directory.lastPathComponent.hasPrefix("tether-"),
            (try? FileManager.default.contentsOfDirectory(atPath: directory.path))?.isEmpty == true
        {
            try? FileManager.default.removeItem(atPath: directory.path)
        }
    }
}
