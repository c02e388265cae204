import Foundation
import Logging
import Synchronization
import SystemPackage
import TetherReactor

/// One spawned plugin process and what the host holds for it (its output pipes, its socket
/// directory), from spawn to release. Used by ``PluginClient``.
final class PluginLaunch: Sendable {
    let configuration: PluginClientConfiguration
    let reactor: Reactor
    let process: ChildProcess
    let socketDirectory: String
    private let stdout: PipeReader
    private let stderr: PipeReader
    private let stderrTail: StderrTail
    private let stderrTask: Task<Void, Never>
    /// Lines of stdout already read past the handshake, and the partial line after them.
    private let stdoutState = Mutex<(lines: [String], splitter: LineSplitter)>(([], LineSplitter()))
    private let stdoutTask = Mutex<Task<Void, Never>?>(nil)
    /// The configured logger with this plugin's name and pid as metadata.
    let logger: Logger
    /// Where each stderr line goes: the sink, then the logger as a record.
    private let stderrLines: @Sendable (String) -> Void

    private init(
        configuration: PluginClientConfiguration, reactor: Reactor, process: ChildProcess, socketDirectory: String,
        stdout: PipeReader, stderr: PipeReader
    ) {
        self.configuration = configuration
        self.reactor = reactor
        self.process = process
        self.socketDirectory = socketDirectory
        self.stdout = stdout
        self.stderr = stderr
        let tail = StderrTail(limitBytes: configuration.stderrTailBytes)
        self.stderrTail = tail
        let name = URL(fileURLWithPath: configuration.executable).lastPathComponent
        func named(_ base: Logger) -> Logger {
            var logger = base
            logger[metadataKey: "plugin.name"] = "\(name)"
            logger[metadataKey: "plugin.pid"] = "\(process.pid)"
            return logger
        }
        self.logger = named(configuration.logger)
        let sink = Self.stderrLineHandler(
            sink: configuration.stderrSink, logger: named(configuration.pluginLogger ?? configuration.logger))
        self.stderrLines = sink
        self.stderrTask = Task(executorPreference: reactor) {
            var splitter = LineSplitter()
            await splitter.forward(from: { try await stderr.read() }, to: sink, observe: tail.append)
            // The plugin moved its stderr to stream 5 (or exited): the pipe's fd is not needed.
            try? await stderr.close()
        }
    }

    /// Hands a stderr line to `sink` and logs it as a record (not parsed when the logger would
    /// drop every level).
    private static func stderrLineHandler(sink: @escaping @Sendable (String) -> Void, logger: Logger)
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
    /// pipes. Nothing is left behind when it throws.
    static func spawn(_ configuration: PluginClientConfiguration, on reactor: Reactor) throws -> PluginLaunch {
        let executable = configuration.executable
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: executable) else {
            throw PluginError(.executableNotFound, "\(executable) does not exist")
        }
        let isDirectory = attributes[.type] as? FileAttributeType == .typeDirectory
        guard !isDirectory, FileManager.default.isExecutableFile(atPath: executable) else {
            throw PluginError(.notExecutable, "\(executable) is not an executable file")
        }
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tether-\(ProcessInfo.processInfo.processIdentifier)-\(UInt64.random(in: 0...UInt64.max))")
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
        environment.merge(configuration.environment) { _, new in new }
        environment.merge(PluginEnvironment.hostVariables(
                handshake: configuration.handshake, unixSocketDirectory: directory,
                hostProcessID: ProcessInfo.processInfo.processIdentifier, network: configuration.network,
                unixSocketGroup: configuration.unixSocketGroup)) {
            _, new in new
        }
        do {
            let (stdout, stdoutWriter) = try reactor.makePipe()
            let (stderr, stderrWriter) = try reactor.makePipe()
            let process: ChildProcess
            do {
                process = try ChildProcess.spawn(
                    executable: executable, arguments: configuration.arguments,
                    environment: environment.map { "\($0.key)=\($0.value)" },
                    files: [
                        .init(stdoutWriter.fileDescriptor, as: .standardOutput),
                        .init(stderrWriter.fileDescriptor, as: .standardError),
                    ],
                    newProcessGroup: true, on: reactor)
            } catch {
                Self.closeSoon([stdout, stderr], [stdoutWriter, stderrWriter], on: reactor)
                throw error
            }
            Self.closeSoon([], [stdoutWriter, stderrWriter], on: reactor)
            return PluginLaunch(
                configuration: configuration, reactor: reactor, process: process, socketDirectory: directory,
                stdout: stdout, stderr: stderr)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            if let error = error as? PluginError { throw error }
            throw PluginError(.launchFailed, "\(executable): \(error)")
        }
    }

    private static func closeSoon(_ readers: [PipeReader], _ writers: [PipeWriter], on reactor: Reactor) {
        Task(executorPreference: reactor) {
            for reader in readers { try? await reader.close() }
            for writer in writers { try? await writer.close() }
        }
    }

    /// Reads stdout until the handshake line; earlier lines go to the stdout sink. Kills the
    /// plugin when the start timeout passes first.
    func readHandshake() async throws -> String {
        let process = self.process
        let reactor = self.reactor
        let timeout = configuration.startTimeout
        let timedOut = Mutex(false)
        let watchdog = Task(executorPreference: reactor) {
            do {
                try await reactor.sleep(for: timeout)
            } catch {
                return
            }
            timedOut.withLock { $0 = true }
            try? process.send(signal: SIGKILL)
        }
        defer { watchdog.cancel() }
        var splitter = LineSplitter()
        let sink = configuration.stdoutSink
        while let slice = try? await stdout.read() {
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
        if timedOut.withLock({ $0 }) {
            throw PluginError(.startTimeout, "no handshake from \(configuration.executable) within \(timeout)")
        }
        let status = (try? await process.waitForExit()).map { "\($0)" } ?? "ended"
        await stderrTask.value
        let tail = stderrTail.text
        throw PluginError(
            .exitedBeforeHandshake,
            "\(configuration.executable) \(status) before its handshake" + (tail.isEmpty ? "" : "; stderr: \(tail)"))
    }

    /// After the handshake: the rest of the stdout pipe, then what the plugin writes to fds 1 and 2
    /// once it forwards them over streams 3 and 5, go to the sinks as it comes.
    func forwardOutputAfterHandshake(streams: PluginStreams) {
        let (lines, splitter) = stdoutState.withLock { $0 }
        let stdoutSink = configuration.stdoutSink
        let stderrSink = self.stderrLines
        let stdout = self.stdout
        for line in lines { stdoutSink(line) }
        let task = Task(executorPreference: reactor) {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    var splitter = splitter
                    await splitter.forward(from: { try await stdout.read() }, to: stdoutSink)
                    try? await stdout.close()
                }
                for (stream, sink) in [(streams.standardOutput, stdoutSink), (streams.standardError, stderrSink)] {
                    group.addTask {
                        var splitter = LineSplitter()
                        await splitter.forward(from: { try await stream.read() }, to: sink)
                    }
                }
            }
        }
        stdoutTask.withLock { $0 = task }
    }

    /// The exit status if the process ends within `duration`, else nil (it keeps running).
    func waitForExit(within duration: Duration) async -> ExitStatus? {
        let process = self.process
        let reactor = self.reactor
        return await withTaskGroup(of: ExitStatus?.self) { group in
            group.addTask(executorPreference: reactor) { try? await process.waitForExit() }
            group.addTask(executorPreference: reactor) {
                try? await reactor.sleep(for: duration)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// Why calls fail once the plugin has exited (for ``RPCConfiguration/explainConnectionLoss``).
    func exitExplanation() async -> (any Error)? {
        guard let status = await waitForExit(within: .milliseconds(200)) else { return nil }
        return PluginError(.pluginExited, "the plugin \(status)")
    }

    /// Kills the process (its whole group) and releases everything: for a failed start.
    func abandon() async {
        try? process.sendToProcessGroup(signal: SIGKILL)
        _ = try? await process.waitForExit()
        await release()
    }

    /// Closes the output pipes (after reading them to the end), the process handle and removes
    /// the socket directory. The process must have exited.
    func release() async {
        await stderrTask.value  // it closes the stderr pipe at its end
        if let task = stdoutTask.withLock({ $0 }) { await task.value }
        try? await stdout.close()  // not forwarded when the start failed
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

    var text: String {
        String(decoding: bytes.withLock { $0 }, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
