import TetherMessagePack
import TetherMux
import TetherReactor

/// The caller's side of RPC over one ``MuxSession``: each call opens its own stream, sends the
/// call and its arguments in the stream's first write, and reads the response.
///
/// Generated clients (`@PluginInterface`) call these methods; they are public so that tools and
/// other languages' conventions can be used without the macro. Cancelling the calling task resets
/// the call's stream, which cancels the handler on the other side. With a ``timeout`` the call
/// carries its deadline: the callee cancels its handler when it passes, and unary and
/// client-streaming calls fail here with ``RPCError/Code-swift.struct/deadlineExceeded``.
public struct RPCChannel: Sendable {
    public let session: MuxSession
    /// The registered name of the called service; nil calls the default instance of the interface.
    public let service: String?
    /// Time allowed for each call, or nil for none.
    public var timeout: Duration?
    public let configuration: RPCConfiguration
    /// The server that answers the peer's calls on this side of the session: where
    /// ``withCallback(_:_:)`` registers the objects passed as callbacks. Nil: none can be passed.
    public var callbackServer: RPCServer? { ownedCallbackServer ?? servingCallbackServer?.server }
    /// The callback server as given to ``init(session:service:configuration:callbackServer:)``.
    private let ownedCallbackServer: RPCServer?
    /// The server a channel to a callback belongs to (``RPCIncomingCall/channel(to:)``), held
    /// weakly: a service of that server may keep such a channel, and a strong reference would
    /// make a cycle (server, service, channel, server) that keeps the server, its session and its
    /// reactor alive for ever. In a box, so that the channel stays a plain loadable struct.
    private let servingCallbackServer: WeakRPCServer?
    let builder: RPCMessageBuilder
    let context: RPCDecodingContext

    public init(
        session: MuxSession, service: String? = nil, configuration: RPCConfiguration = RPCConfiguration(),
        callbackServer: RPCServer? = nil
    ) {
        self.init(
            session: session, service: service, configuration: configuration, ownedCallbackServer: callbackServer,
            servingCallbackServer: nil)
    }

    /// A channel whose callback server is `servingServer`, held weakly (see
    /// ``RPCIncomingCall/channel(to:)``).
    init(session: MuxSession, service: String?, configuration: RPCConfiguration, servingServer: RPCServer) {
        self.init(
            session: session, service: service, configuration: configuration, ownedCallbackServer: nil,
            servingCallbackServer: WeakRPCServer(servingServer))
    }

    private init(
        session: MuxSession, service: String?, configuration: RPCConfiguration, ownedCallbackServer: RPCServer?,
        servingCallbackServer: WeakRPCServer?
    ) {
        self.session = session
        self.service = service
        self.configuration = configuration
        self.ownedCallbackServer = ownedCallbackServer
        self.servingCallbackServer = servingCallbackServer
        self.builder = RPCMessageBuilder(encoder: MessagePackEncoder(), maxMessageBytes: configuration.maxMessageBytes)
        self.context = RPCDecodingContext(configuration: configuration)
    }

    /// The same channel with every call limited to `timeout`.
    public func withTimeout(_ timeout: Duration?) -> RPCChannel {
        var channel = self
        channel.timeout = timeout
        return channel
    }

    // MARK: Calls

    /// A call with one result.
    public func unary<Result: Decodable>(
        _ method: String, returning: Result.Type, arguments: (inout RPCArgumentEncoder) throws -> Void
    ) async throws -> Result {
        try await explaining {
            let stream = try await start(method, finishing: true, arguments: arguments)
            return try await withDeadline(resetting: stream) {
                var value = try await awaitResult(on: stream)
                return try context.decodeValue(Result.self, from: &value)
            }
        }
    }

    /// A call without a result.
    public func unary(_ method: String, arguments: (inout RPCArgumentEncoder) throws -> Void) async throws {
        try await explaining {
            let stream = try await start(method, finishing: true, arguments: arguments)
            try await withDeadline(resetting: stream) {
                _ = try await awaitResult(on: stream)
            }
        }
    }

    /// A call whose result is a stream of items.
    public func serverStreaming<Item: Decodable & Sendable>(
        _ method: String, of: Item.Type, arguments: (inout RPCArgumentEncoder) throws -> Void
    ) async throws -> RPCStream<Item> {
        try await explaining {
            let stream = try await start(method, finishing: true, arguments: arguments)
            return RPCStream(remote: RPCRemoteItems(reader: itemReader(for: stream)))
        }
    }

    /// A call that sends a stream of items and has one result.
    public func clientStreaming<Item: Encodable & Sendable, Result: Decodable>(
        _ method: String, sending items: RPCStream<Item>, returning: Result.Type,
        arguments: (inout RPCArgumentEncoder) throws -> Void
    ) async throws -> Result {
        var value = try await streamingCall(method, sending: items, arguments: arguments)
        return try context.decodeValue(Result.self, from: &value)
    }

    /// A call that sends a stream of items and has no result.
    public func clientStreaming<Item: Encodable & Sendable>(
        _ method: String, sending items: RPCStream<Item>, arguments: (inout RPCArgumentEncoder) throws -> Void
    ) async throws {
        _ = try await streamingCall(method, sending: items, arguments: arguments)
    }

    /// Sends the call and its items while waiting for the result; returns the result's value.
    private func streamingCall<Item: Encodable & Sendable>(
        _ method: String, sending items: RPCStream<Item>, arguments: (inout RPCArgumentEncoder) throws -> Void
    ) async throws -> MessagePackReader {
        let builder = self.builder
        return try await streamingCall(method, arguments: arguments) { stream in
            await Self.send(items, on: stream, builder: builder)
        }
    }

    /// Sends the call, then runs `send` (which writes the rest of the caller's direction and
    /// returns its failure) while waiting for the result; returns the result's value.
    func streamingCall(
        _ method: String, arguments: (inout RPCArgumentEncoder) throws -> Void,
        send: @escaping @Sendable (MuxStream) async -> (any Error)?
    ) async throws -> MessagePackReader {
        try await explaining {
            let stream = try await start(method, finishing: false, arguments: arguments)
            return try await withDeadline(resetting: stream) {
                try await withThrowingTaskGroup(of: (any Error)?.self) { group in
                    group.addTask { await send(stream) }
                    let response: Result<MessagePackReader, any Error>
                    do {
                        response = try await awaitResponse(on: stream)
                    } catch {
                        // No response: the producer's own failure (it resets the stream when it
                        // fails) is the better explanation of a reset stream.
                        for try await producerError in group {
                            if let producerError, !(producerError is CancellationError) { throw producerError }
                        }
                        throw error
                    }
                    // The callee answered, so its result or failure stands, whatever became of the
                    // items still being sent (a callee that fails the call resets the stream).
                    group.cancelAll()
                    return try response.get()
                }
            }
        }
    }

    /// A call that sends a stream of items and receives one; both directions flow at once.
    public func bidirectional<Item: Encodable & Sendable, Reply: Decodable & Sendable>(
        _ method: String, sending items: RPCStream<Item>, of: Reply.Type,
        arguments: (inout RPCArgumentEncoder) throws -> Void
    ) async throws -> RPCStream<Reply> {
        let stream = try await explaining { try await start(method, finishing: false, arguments: arguments) }
        let replies = RPCRemoteItems(reader: itemReader(for: stream) as RPCItemReader<Reply>)
        let builder = self.builder
        replies.attach(
            Task(executorPreference: session.reactor) {
                await Self.send(items, on: stream, builder: builder)
            })
        return RPCStream(remote: replies)
    }

    // MARK: Steps

    /// Runs `body`; a lost connection is reported as ``RPCConfiguration/explainConnectionLoss``
    /// explains it (a plugin client: "the plugin exited").
    func explaining<Value>(_ body: () async throws -> Value) async throws -> Value {
        do {
            return try await body()
        } catch {
            throw await context.explained(error)
        }
    }

    /// Opens the call's stream and writes the call message (with FIN when nothing follows).
    func start(
        _ method: String, finishing: Bool, arguments: (inout RPCArgumentEncoder) throws -> Void
    ) async throws -> MuxStream {
        var encoder = RPCArgumentEncoder(encoder: builder.encoder)
        try arguments(&encoder)
        let request = try builder.call(
            service: service, method: method, timeoutNanoseconds: timeout?.clampedNanoseconds, arguments: encoder)
        let stream = try await session.openStreamForCall()
        try await stream.writeForCall(request, finishing: finishing)
        return stream
    }

    private func itemReader<Item: Decodable & Sendable>(for stream: MuxStream) -> RPCItemReader<Item> {
        RPCItemReader(messages: context.messages(on: stream), end: .resultMessage, context: context)
    }

    /// Reads the call's response: a reader at its result's value, or throws the failure it reports.
    private func awaitResult(on stream: MuxStream) async throws -> MessagePackReader {
        try await awaitResponse(on: stream).get()
    }

    /// Reads the call's response: a reader at its result's value, or the error its failure
    /// message reports. Throws when there is no response (the stream failed or ended without
    /// one, or the response is malformed).
    private func awaitResponse(on stream: MuxStream) async throws -> Result<MessagePackReader, any Error> {
        var messages = context.messages(on: stream)
        return try await awaitResponse(from: &messages)
    }

    /// ``awaitResponse(on:)`` from `messages`, which keeps what was read past the response (the
    /// start of a byte-stream result).
    func awaitResponse(from messages: inout RPCMessageReader) async throws -> Result<MessagePackReader, any Error> {
        let id = messages.stream.id
        switch try await messages.next() {
        case .result(let value):
            return .success(value)
        case .failure(let failure):
            return .failure(context.error(for: failure))
        case .call, .item:
            throw RPCError(.protocolViolation, "expected the call's result on stream \(id)")
        case nil:
            throw RPCError(.connectionLost, "the call's stream \(id) ended without a result")
        }
    }

    /// Sends `items` and then FIN; on failure resets the stream and returns the error.
    static func send<Item: Encodable & Sendable>(
        _ items: RPCStream<Item>, on stream: MuxStream, builder: RPCMessageBuilder
    ) async -> (any Error)? {
        do {
            try await items.forEach { item in
                try await stream.writeForCall(try builder.item(item))
            }
            try await stream.closeWriteForCall()
            return nil
        } catch {
            await stream.reset()
            return error
        }
    }

    /// Runs `body`; when the channel has a timeout and it passes first, resets `stream` (which
    /// ends `body`'s wait) and throws ``RPCError/Code-swift.struct/deadlineExceeded``.
    ///
    /// The deadline is a reactor timer (one timeout operation, removed when `body` ends first),
    /// not a task that sleeps: calls may run at hundreds of thousands a second.
    private func withDeadline<Value>(resetting stream: MuxStream, _ body: () async throws -> Value) async throws
        -> Value
    {
        guard let (deadline, timer) = startDeadline(resetting: stream) else { return try await body() }
        defer { timer.cancel() }
        do {
            return try await body()
        } catch {
            if deadline.hasExpired {
                throw RPCError(.deadlineExceeded, "no response within \(timeout!)")
            }
            throw error
        }
    }

    /// The channel's timeout for a call on `stream`, started: a reactor timer that resets the
    /// stream when it passes. Nil without a timeout (a negative one is none here: the callee
    /// gets 0 and fails the call at once).
    func startDeadline(resetting stream: MuxStream) -> (expiry: RPCDeadlineTimer, timer: ReactorTimer)? {
        guard let timeout, timeout >= .zero else { return nil }
        let expiry = RPCDeadlineTimer(resetting: stream)
        let timer = ReactorTimer.start(
            on: session.reactor, timeoutNanoseconds: timeout.clampedNanoseconds, handler: expiry)
        return (expiry, timer)
    }
}

/// A server held weakly: the callback server of a channel to a callback.
final class WeakRPCServer: Sendable {
    weak let server: RPCServer?

    init(_ server: RPCServer) {
        self.server = server
    }
}
