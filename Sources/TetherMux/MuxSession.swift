import CoreMetrics
import Synchronization
import TetherCollections
import TetherReactor

/// A yamux session over one reactor socket: open and accept streams, ping, go away, close.
///
/// The session is an actor pinned to the socket's reactor, so the frame parser, the state machine
/// (``SessionState``) and every stream's bookkeeping run on the reactor thread without locks;
/// callers on the reactor (tasks preferring it, actors pinned to it) never change threads. The
/// socket hands each received buffer straight to the parser from the reactor's loop, and whatever
/// frames the state machine queued (its ``OutboundFrameBuffer``: control frames ahead of data,
/// FIN and RST behind it) leave in one gathered `sendmsg` when the reactor's current jobs are done.
///
/// A peer that misbehaves costs bounded memory and time: while too many reply frames wait for a
/// peer that does not read, the session stops reading it; writers wait while
/// ``MuxConfiguration/maxOutboundDataBytes`` wait; unread data is bounded per stream by its window
/// and across streams by ``MuxConfiguration/maxBufferedBytes``; a write that makes no progress for
/// ``MuxConfiguration/writeTimeoutNanoseconds`` ends the session and shuts the socket down, which
/// also bounds ``close()``.
///
/// Payloads are never copied: received frames are slices of the reactor's buffers, and written
/// ``BufferSlice``s go to the kernel as they are (see ``MuxCounters/bytesCopied``).
public actor MuxSession {
    /// The reactor this session runs on.
    public nonisolated let reactor: Reactor
    /// The session's socket.
    public nonisolated let socket: StreamSocket
    /// Client (host, odd stream IDs) or server (plugin, even stream IDs).
    public nonisolated let role: MuxRole

    public nonisolated var unownedExecutor: UnownedSerialExecutor { reactor.unownedSerialExecutor }

    var state: SessionState<BufferSlice>
    var streams: [UInt32: MuxStreamEntry] = [:]
    var counters = MuxCounters()
    /// The counters as swift-metrics metrics; nil without a metrics backend.
    let metrics: SessionMetrics?
    let clock = ContinuousClock()
    let startInstant: ContinuousClock.Instant

    /// A gathered send is in the kernel; its completion schedules the next (see `flush`).
    var sendInFlight = false
    /// A flush is queued on the reactor (`callSoon`): frames queued until then go in one send.
    var flushScheduled = false
    /// The writer has not ended (it ends once the session failed and everything queued is sent).
    var writerRunning = true
    var headerArena = HeaderArena()
    /// The state machine stopped parsing until the peer takes the frames waiting for it; the
    /// socket's receive is paused meanwhile.
    var inputPaused = false
    /// Queued, unread slices holding a receive buffer of the reactor, and how many may be held
    /// before they are copied out (half the reactor's buffer ring: the other half keeps the
    /// session socket readable).
    var pinnedSlices = 0
    let pinnedSliceLimit: Int

    var acceptWaiters: [CheckedContinuation<Void, Never>] = []
    /// Incoming streams the state machine accepted for waiting acceptors, in order: each waiter
    /// woken takes the next when its task runs. Their entries count as having a handle, so a
    /// reset parsed before then stays recorded for the acceptor to read.
    var handedToAcceptors = FIFO<UInt32>()
    var openWaiters: [CheckedContinuation<Void, Never>] = []
    var pingWaiters: [UInt32: CheckedContinuation<Result<UInt64, MuxError>, Never>] = [:]
    /// Why the session ended, or nil while it runs: the state machine's record.
    var failure: MuxError? { ask({ $0.failure }) }

    /// Answers `question` about the state machine in place. Reading the actor's `state` for a
    /// non-mutating call copies the whole struct when the call's body comes from another module
    /// (TetherYamux); through `inout` it is read where it lies.
    @inline(__always)
    func ask<Answer>(_ question: (inout SessionState<BufferSlice>) -> Answer) -> Answer {
        question(&state)
    }
    /// The socket hands received bytes to the session (`received`) until the session fails.
    var receiving = true
    var tickerTask: Task<Void, Never>?
    var runningLoops = 3
    var finishedWaiters: [CheckedContinuation<Void, Never>] = []
    /// Streams whose handles were dropped, waiting to be released on the session's executor
    /// (see `enqueueRelease`).
    nonisolated let droppedStreams = Mutex<[UInt32]>([])
    var socketClosed = false

    /// Starts a session over `socket` (which it now owns): its receive handler and its timer.
    ///
    /// - Parameter metricsFactory: where the session's counters go as metrics (`tether_mux_*`, see
    ///   docs/guide.md); by default the one the application bootstrapped, and none without one.
    /// - Throws: ``MuxError/Code-swift.struct/invalidConfiguration`` for a bad configuration.
    public init(
        socket: StreamSocket, role: MuxRole, configuration: MuxConfiguration = MuxConfiguration(),
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) async throws(MuxError) {
        self.reactor = socket.reactor
        self.socket = socket
        self.role = role
        let start = ContinuousClock().now
        self.startInstant = start
        self.state = try SessionState(role: role, configuration: configuration, nowNanoseconds: 0)
        self.pinnedSliceLimit = max(1, socket.reactor.configuration.receiveBufferCount / 2)
        self.metrics = SessionMetrics(factory: metricsFactory, role: role)
        startTasks()
    }

    private func startTasks() {
        let reactor = self.reactor
        Task(executorPreference: reactor) { await self.startReceiving() }
        tickerTask = Task(executorPreference: reactor) { await self.tickLoop() }
        drainActions()
    }

    /// Nanoseconds since the session started: the state machine's clock.
    var nowNanoseconds: UInt64 {
        (clock.now - startInstant).clampedNanoseconds
    }

    // MARK: Streams

    /// Opens a stream. Data may be written at once, before the peer accepts it.
    ///
    /// Waits while 256 streams opened by this side are not yet ACKed (yamux's backlog).
    /// - Throws: ``MuxError`` — `remoteGoAway` after the peer's GoAway, `streamsExhausted`, the
    ///   session's failure, `sessionClosed`, or `cancelled` when the task is cancelled while waiting.
    public nonisolated func openStream() async throws(MuxError) -> MuxStream {
        guard case .stream(let stream) = try await perform(.open) else { preconditionFailure("open made no stream") }
        return stream
    }

    /// The next stream the peer opened; accepting sends its ACK.
    ///
    /// Cancelling the task does not end the wait: the next stream, or the session's end, does.
    /// A loop that stops when cancelled then drops the stream it got, which resets it, and the
    /// peer learns at once that its stream will not be served.
    ///
    /// - Throws: the session's failure (``MuxError/Code-swift.struct/connectionClosed`` when the
    ///   peer closed the connection, `sessionClosed` after ``close()``).
    public nonisolated func acceptStream() async throws(MuxError) -> MuxStream {
        guard case .stream(let stream) = try await perform(.accept) else {
            preconditionFailure("accept made no stream")
        }
        return stream
    }

    /// Incoming streams as an async sequence; ends when the session ends.
    public nonisolated var incomingStreams: AsyncThrowingStream<MuxStream, any Error> {
        AsyncThrowingStream(unfolding: {
            do {
                return try await self.acceptStream()
            } catch let error as MuxError where error.code == .connectionClosed || error.code == .sessionClosed {
                return nil
            }
        })
    }

    // MARK: Session

    /// Sends a Ping and returns the round-trip time.
    public func ping() async throws(MuxError) -> Duration {
        if let failure { throw failure }
        let opaque = try state.ping(nowNanoseconds: nowNanoseconds)
        drainActions()
        let result = await withCheckedContinuation { pingWaiters[opaque] = $0 }
        return .nanoseconds(Int64(clamping: try result.get()))
    }

    /// Sends GoAway(normal): the peer may open no new streams; existing streams continue.
    public func goAway() {
        state.goAway(.normal)
        drainActions()
    }

    /// Closes the session: queued frames are written — for at most
    /// ``MuxConfiguration/writeTimeoutNanoseconds`` without progress, after which the socket is
    /// shut down and they are dropped — the socket is closed, every stream and waiter fails with
    /// `sessionClosed`. Returns when the socket is closed.
    public func close() async {
        fail(MuxError(.sessionClosed))  // no-op if the session already ended
        await waitUntilFinished()
    }

    /// Waits until the session has ended (peer closed, protocol error, keepalive timeout, close)
    /// and its socket is closed.
    public func waitUntilFinished() async {
        if isFinished { return }
        await withCheckedContinuation { finishedWaiters.append($0) }
    }

    var isFinished: Bool { runningLoops == 0 && socketClosed }

    /// The receiving, the writer or the ticker has ended.
    func loopEnded() {
        runningLoops -= 1
        if runningLoops == 0 { Task(executorPreference: reactor) { await self.closeSocket() } }
    }

    private func closeSocket() async {
        guard !socketClosed else { return }
        try? await socket.close()
        socketClosed = true
        publishFinalMetrics()
        for waiter in finishedWaiters { waiter.resume() }
        finishedWaiters.removeAll()
    }

    /// Why the session ended, or nil while it runs.
    public var endReason: MuxError? { failure }

    /// The session's counters.
    public var statistics: MuxCounters { counters }

    /// Streams the session still tracks.
    public var streamCount: Int { streams.count }

    /// Whether the session stopped reading its peer because the frames it owes that peer wait for
    /// the connection (see ``MuxConfiguration/pauseInputAtReplyFrames``).
    public var isReadingPaused: Bool { inputPaused }

    /// Payload bytes received and not yet read, across all streams (bounded by
    /// ``MuxConfiguration/maxBufferedBytes``).
    public var bufferedBytes: UInt64 { state.bufferedBytes }

    /// Streams whose reader is parked waiting for data (for diagnosing a stuck session).
    public var waitingReaderCount: Int { streams.values.reduce(0) { $0 + ($1.reader == nil ? 0 : 1) } }

    /// Ended streams whose end the state machine keeps until their records go (handles dropped,
    /// or the session forgets a stream nobody accepted).
    public var endedStreamCount: Int { state.endedStreamCount }

    /// One line of internal state for diagnosing a stuck session: tracked streams, un-ACKed
    /// opens, streams waiting to be accepted, queued frames, waiters, failure.
    public var diagnostics: String {
        "streams=\(streams.count) machine=\(state.streamCount) unacked=\(state.unacknowledgedCount) "
            + "acceptQueue=\(state.acceptQueueCount) outFrames=\(state.outbound.queuedFrameCount) "
            + "outReplies=\(state.outbound.outstandingReplyFrames) outData=\(state.outbound.outstandingDataBytes) "
            + "sending=\(sendInFlight) inputPaused=\(inputPaused) buffered=\(state.bufferedBytes) "
            + "openWaiters=\(openWaiters.count) acceptWaiters=\(acceptWaiters.count) "
            + "waitingReaders=\(waitingReaderCount) pinned=\(pinnedSlices) failure=\(failure.map { "\($0)" } ?? "none")"
    }
}
