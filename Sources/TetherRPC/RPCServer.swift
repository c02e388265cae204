import Synchronization
import TetherMessagePack
import TetherMux
import TetherReactor

/// The callee's side of RPC: serves registered ``RPCService``s to the calls arriving on a session.
///
/// Every call runs in its own task on the session's reactor. The caller resetting the call's
/// stream (it was cancelled) cancels that task; so does the call's deadline, after which the
/// caller gets ``RPCError/Code-swift.struct/deadlineExceeded``. A handler's error is sent to the
/// caller (see ``RemoteError``).
///
/// Whatever the peer does, the calls of one session hold bounded resources: at most
/// ``RPCConfiguration/maxConcurrentCallsPerSession`` calls run at once (more wait, unaccepted,
/// in the mux), a call's stream must deliver its call message within
/// ``RPCConfiguration/callMessageTimeout``, and messages still arriving hold at most
/// ``RPCConfiguration/maxIncomingMessageBytesPerSession`` bytes together. ``load(of:)`` shows
/// what a session holds.
public final class RPCServer: Sendable {
    public let configuration: RPCConfiguration
    private let services = Mutex<[String: any RPCService]>([:])
    /// Services registered by factory: each instance name (`NAME#ID`) gets its own service,
    /// made at the first call that names it and kept while the server runs.
    private let factories = Mutex<[String: @Sendable () -> any RPCService]>([:])
    private let builder: RPCMessageBuilder
    private let context: RPCDecodingContext
    /// The load of each session served, kept as long as the session exists (an entry whose
    /// session is gone is replaced or dropped when a new entry is made).
    private let sessionLoads = Mutex<[ObjectIdentifier: SessionLoadEntry]>([:])
    /// The number in the next callback's name.
    private let nextCallback = Atomic<UInt64>(1)

    /// A server with `configuration`'s limits (see ``RPCConfiguration``).
    ///
    /// - Precondition: `maxConcurrentCallsPerSession` is positive, `callMessageTimeout` (if
    ///   set) is positive, `maxIncomingMessageBytesPerSession` is not negative.
    public init(configuration: RPCConfiguration = RPCConfiguration()) {
        precondition(configuration.maxConcurrentCallsPerSession > 0, "maxConcurrentCallsPerSession must be positive")
        precondition(configuration.callMessageTimeout.map { $0 > .zero } ?? true, "callMessageTimeout must be positive")
        precondition(configuration.maxIncomingMessageBytesPerSession >= 0, "maxIncomingMessageBytesPerSession < 0")
        self.configuration = configuration
        self.builder = RPCMessageBuilder(encoder: MessagePackEncoder(), maxMessageBytes: configuration.maxMessageBytes)
        self.context = RPCDecodingContext(configuration: configuration)
    }

    /// Serves `service` to calls addressed to `name`, or by default to calls of its interface
    /// that name no service. A later registration under the same name replaces the earlier one.
    public func register(_ service: some RPCService, as name: String? = nil) {
        let key = name ?? type(of: service).interfaceName
        services.withLock { $0[key] = service }
    }

    /// Serves a new service made by `factory` to each instance of `name`: calls addressed to
    /// `name#ID` reach the instance `ID` (made at its first call), so a caller holding one
    /// instance does not share state with another (go-plugin's one server per `Dispense`).
    /// Calls to plain `name` reach one shared instance.
    public func register(factory: @escaping @Sendable () -> any RPCService, as name: String) {
        precondition(!name.contains("#"), "a service name cannot contain #")
        factories.withLock { $0[name] = factory }
    }

    /// Stops serving `name` (and every instance of a factory registered as `name`); calls
    /// already running finish.
    public func unregister(_ name: String) {
        _ = factories.withLock { $0.removeValue(forKey: name) }
        services.withLock { services in
            services.removeValue(forKey: name)
            for key in services.keys where key.hasPrefix(name + "#") { services.removeValue(forKey: key) }
        }
    }

    /// Registers `service` under a new name of its own (``callbackPrefix`` and a number) and
    /// returns the name: a callback, unregistered when its call returns.
    func registerCallback(_ service: some RPCService) -> String {
        let number = nextCallback.wrappingAdd(1, ordering: .relaxed).oldValue
        let name = "\(Self.callbackPrefix)\(number)"
        services.withLock { $0[name] = service }
        return name
    }

    /// Accepts and serves calls until the session ends. Cancelling the task stops the loop: it
    /// returns once its accept ends (the next stream arrives or the session ends), and a stream
    /// accepted after the cancellation is reset, not served. Calls already running go on.
    ///
    /// While the session has ``RPCConfiguration/maxConcurrentCallsPerSession`` calls running,
    /// no stream is accepted until one ends: the peer's new streams wait in the mux's accept
    /// backlog and its opens on its own backlog of unacknowledged streams.
    public func serve(_ session: MuxSession) async {
        let load = sessionLoad(for: session)
        while await load.waitForRoom() {
            let stream: MuxStream
            do {
                stream = try await session.acceptStream()
            } catch {
                return
            }
            // Dropping the stream unserved resets it.
            if Task.isCancelled { return }
            // Normally at once; a call started meanwhile by `serve(_ stream:)` can make it wait.
            guard await load.startCall() else { return }
            await start(stream, in: load)
        }
    }

    /// Serves the call on `stream` (an accepted stream) in a task of its own.
    ///
    /// The call counts against its session's ``RPCConfiguration/maxConcurrentCallsPerSession``
    /// together with the calls ``serve(_:)-(MuxSession)`` accepts: while the session has that
    /// many, this waits for one to end before starting the call, which holds back a loop that
    /// accepts streams and passes them here. Its ``RPCConfiguration/callMessageTimeout`` starts
    /// with the call. Cancelling the waiting task returns without serving: dropping `stream`
    /// then resets it.
    public func serve(_ stream: MuxStream) async {
        let load = sessionLoad(for: stream.session)
        guard await load.startCall() else { return }
        await start(stream, in: load)
    }

    /// What the calls of `session` hold now in this server and the most they held since the
    /// server first served the session; zeros for a session it has not served.
    public func load(of session: MuxSession) -> RPCServerSessionLoad {
        sessionLoads.withLock { loads in
            guard let entry = loads[ObjectIdentifier(session)], entry.session === session else { return nil }
            return entry.load.snapshot
        } ?? RPCServerSessionLoad()
    }

    private func sessionLoad(for session: MuxSession) -> RPCSessionLoad {
        sessionLoads.withLock { loads in
            let key = ObjectIdentifier(session)
            if let entry = loads[key], entry.session === session { return entry.load }
            // A new session (or a new one at a freed address): forget sessions that are gone.
            loads = loads.filter { $0.value.session != nil }
            let load = RPCSessionLoad(configuration: configuration, reactor: session.reactor)
            loads[key] = SessionLoadEntry(session: session, load: load)
            return load
        }
    }

    /// Runs the call on `stream` in a task of its own; it has taken a slot of `load`, which it
    /// gives back when it ends.
    private func start(_ stream: MuxStream, in load: RPCSessionLoad) async {
        let control = RPCCallControl()
        let task = Task(executorPreference: stream.session.reactor) {
            await self.handle(stream, control: control, load: load)
            load.endCall()
        }
        control.attach(task)
        await stream.onFailure { _ in control.cancel() }
    }

    private func handle(_ stream: MuxStream, control: RPCCallControl, load: RPCSessionLoad) async {
        let budget = RPCMessageBudget(load: load)
        // Whatever ends the call, what its last message still held goes back to the session.
        defer { budget.close() }
        var messages = context.messages(on: stream, budget: budget)
        let header: RPCCallHeader
        do {
            header = try await readCallMessage(from: &messages, control: control, load: load)
        } catch {
            await fail(stream, with: error)
            return
        }
        // The reader may hold bytes past the call message: the first items of a streamed argument.
        let exchange = RPCCallExchange(
            builder: builder, context: context, budget: budget, server: self, messages: consume messages)
        // The call's deadline expires its control (cancelling this task) from a reactor timer.
        let deadline = header.timeoutNanoseconds.map {
            ReactorTimer.start(on: stream.session.reactor, timeoutNanoseconds: $0, handler: control)
        }
        defer { deadline?.cancel() }
        do {
            guard let service = service(for: header) else {
                if let name = header.service, name.hasPrefix(Self.callbackPrefix) {
                    throw RPCError(
                        .callbackReleased, "callback \(name) was released: the call that passed it has returned")
                }
                throw RPCError(
                    .unknownMethod, "no service \(header.service ?? String(header.interfaceName)) for \(header.method)")
            }
            try await service.handle(RPCIncomingCall(header: header, stream: stream, exchange: exchange))
            if !exchange.hasResponded {
                throw RPCError(.protocolViolation, "the handler of \(header.method) returned without responding")
            }
        } catch {
            let reported =
                control.hasDeadlineExpired
                ? RPCError(.deadlineExceeded, "\(header.method) ran past its deadline") : error
            // Past the `[3, nil]` of a byte-stream result the stream carries raw bytes: a failure
            // message would read as data, so the call ends with a reset.
            if !exchange.hasResponded || (control.hasDeadlineExpired && !exchange.hasRespondedWithBytes) {
                await fail(stream, with: reported)
            } else {
                await stream.reset()
            }
        }
    }

    /// Reads the call's first message, which must be a call message and arrive within the
    /// session's call-message timeout.
    private func readCallMessage(
        from messages: inout RPCMessageReader, control: RPCCallControl, load: RPCSessionLoad
    ) async throws -> RPCCallHeader {
        let wait = load.awaitCallMessage(control)
        defer { load.callMessageWaitEnded(wait) }
        let message: RPCMessage?
        do {
            // The timeout cancels this read; the stream is not reset then, so that the caller
            // can be told why on it.
            message = try await messages.next(resettingOnCancellation: false)
        } catch {
            if control.hasCallMessageTimedOut { throw callMessageTimeout(in: load) }
            throw error
        }
        guard control.callMessageArrived() else { throw callMessageTimeout(in: load) }
        switch message {
        case .call(let call): return call
        case nil: throw RPCError(.protocolViolation, "the stream ended before a call message")
        default: throw RPCError(.protocolViolation, "a call's stream must start with a call message")
        }
    }

    private func callMessageTimeout(in load: RPCSessionLoad) -> RPCError {
        load.countCallMessageTimeout()
        let timeout = configuration.callMessageTimeout.map { "\($0)" } ?? "its timeout"
        return RPCError(.callMessageTimeout, "no complete call message within \(timeout)")
    }

    private func service(for header: RPCCallHeader) -> (any RPCService)? {
        let name = header.service ?? String(header.interfaceName)
        if let service = services.withLock({ $0[name] }) { return service }
        let base = name.split(separator: "#", maxSplits: 1).first.map(String.init) ?? name
        guard let factory = factories.withLock({ $0[base] }) else { return nil }
        // Made outside the lock (the factory is user code); the first one stored wins a race.
        let made = factory()
        return services.withLock { services in
            if let existing = services[name] { return existing }
            services[name] = made
            return made
        }
    }

    /// Reports `error` to the caller and ends the call; a stream that cannot take it is reset.
    private func fail(_ stream: MuxStream, with error: any Error) async {
        do {
            let message = try builder.failure(RPCFailure(error: error, encoder: builder.encoder))
            try await stream.writeAndClose([BufferSlice(copying: message)])
        } catch {
            await stream.reset()
        }
    }
}

/// A session's load, kept without keeping the session alive.
private struct SessionLoadEntry: Sendable {
    weak var session: MuxSession?
    let load: RPCSessionLoad
}
