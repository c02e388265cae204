import Synchronization
import TetherMux
import TetherReactor

/// The callee's side of RPC: serves registered ``RPCService``s to the calls arriving on a session.
///
/// Every call runs in its own task on the session's reactor. The caller resetting the call's
/// stream (it was cancelled) cancels that task; so does the call's deadline, after which the
/// caller gets ``RPCError/Code-swift.struct/deadlineExceeded``. A handler's error is sent to the
/// caller (see ``RemoteError``).
public final class RPCServer: Sendable {
    public let configuration: RPCConfiguration
    private let services = Mutex<[String: any RPCService]>([:])
    /// Services registered by factory: each instance name (`NAME#ID`) gets its own service,
    /// made at the first call that names it and kept while the server runs.
    private let factories = Mutex<[String: @Sendable () -> any RPCService]>([:])
    private let builder: RPCMessageBuilder
    private let context: RPCDecodingContext

    public init(configuration: RPCConfiguration = RPCConfiguration()) {
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

    /// Accepts and serves calls until the session ends.
    public func serve(_ session: MuxSession) async {
        while true {
            let stream: MuxStream
            do {
                stream = try await session.acceptStream()
            } catch {
                return
            }
            await serve(stream)
        }
    }

    /// Starts serving the call on `stream` (an accepted stream) in a task of its own.
    public func serve(_ stream: MuxStream) async {
        let control = RPCCallControl()
        let task = Task(executorPreference: stream.session.reactor) {
            await self.handle(stream, control: control)
        }
        control.attach(task)
        await stream.onFailure { _ in control.cancel() }
    }

    private func handle(_ stream: MuxStream, control: RPCCallControl) async {
        var messages = context.messages(on: stream)
        let header: RPCCallHeader
        do {
            switch try await messages.next() {
            case .call(let call): header = call
            case nil: throw RPCError(.protocolViolation, "the stream ended before a call message")
            default: throw RPCError(.protocolViolation, "a call's stream must start with a call message")
            }
        } catch {
            await fail(stream, with: error)
            return
        }
        // The reader may hold bytes past the call message: the first items of a streamed argument.
        let exchange = RPCCallExchange(builder: builder, context: context, messages: messages)
        let deadline = header.timeoutNanoseconds.map { startDeadline(after: $0, on: stream, control: control) }
        defer { deadline?.cancel() }
        do {
            guard let service = service(for: header) else {
                throw RPCError(.unknownMethod, "no service \(header.service ?? String(header.interfaceName)) for \(header.method)")
            }
            try await service.handle(RPCIncomingCall(header: header, stream: stream, exchange: exchange))
            if !exchange.hasResponded {
                throw RPCError(.protocolViolation, "the handler of \(header.method) returned without responding")
            }
        } catch {
            let reported =
                control.hasDeadlineExpired
                ? RPCError(.deadlineExceeded, "\(header.method) ran past its deadline") : error
            if !exchange.hasResponded || control.hasDeadlineExpired {
                await fail(stream, with: reported)
            } else {
                await stream.reset()
            }
        }
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

    private func startDeadline(after nanoseconds: UInt64, on stream: MuxStream, control: RPCCallControl) -> Task<Void, Never> {
        let reactor = stream.session.reactor
        return Task(executorPreference: reactor) {
            do {
                try await reactor.sleep(for: .nanoseconds(Int64(clamping: nanoseconds)))
            } catch {
                return
            }
            control.expireDeadline()
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
