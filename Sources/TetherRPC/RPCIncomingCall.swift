import Synchronization
import TetherMux

/// One call received by an ``RPCServer``, handed to the ``RPCService`` it addresses.
///
/// Generated services read the arguments with ``arguments(count:)``, a streamed argument with
/// ``incomingStream(of:)``, and answer with one of the `respond` methods, exactly once.
public struct RPCIncomingCall: Sendable {
    /// `Interface.method(label:label:)`.
    public var method: String { header.method }
    /// The service name the caller addressed (nil: the interface's default instance).
    public var service: String? { header.service }

    let header: RPCCallHeader
    let stream: MuxStream
    let exchange: RPCCallExchange

    /// The call's arguments, after checking that there are `count` of them.
    ///
    /// - Throws: ``RPCError/Code-swift.struct/badArguments`` for another count.
    public func arguments(count: Int) throws -> RPCArgumentDecoder {
        guard header.argumentCount == count else {
            throw RPCError(.badArguments, "\(method) takes \(count) arguments, the call has \(header.argumentCount)")
        }
        return RPCArgumentDecoder(
            reader: header.arguments, count: count, decoder: exchange.context.decoder, method: method)
    }

    /// The items the caller streams, ending at its FIN. Can be taken once: a second stream (of
    /// items or bytes) throws ``RPCError/Code-swift.struct/streamConsumed`` when iterated.
    public func incomingStream<Item: Decodable & Sendable>(of: Item.Type) -> RPCStream<Item> {
        // The reader past the call message goes to the first taker; a second finds none.
        let reader = exchange.takeMessages().map {
            RPCItemReader<Item>(messages: $0, end: .fin, context: exchange.context)
        }
        return RPCStream(remote: RPCRemoteItems(reader: reader))
    }

    /// The raw bytes the caller streams after the call message, ending at its FIN (11.6). Can be
    /// taken once: a second stream (of items or bytes) throws
    /// ``RPCError/Code-swift.struct/streamConsumed`` when iterated.
    public func incomingBytes() -> ByteStream {
        let reader = exchange.takeMessages().map { messages in
            var messages = messages
            return RPCByteReader(stream: stream, first: messages.takeRemainder(), context: exchange.context)
        }
        return ByteStream(remote: RPCRemoteBytes(reader: reader))
    }

    /// Sends `[3, nil]` (the call succeeded), then the bytes of `bytes` as they are, and ends the
    /// call with FIN (11.6). When `bytes` fails (its producer throws, the caller resets), throws
    /// that error; the server then resets the stream, which the caller sees as
    /// ``RPCError/Code-swift.struct/streamReset``.
    public func respondBytes(_ bytes: ByteStream) async throws {
        try exchange.markResponded(sendingBytes: true)
        let stream = self.stream
        try await stream.writeForCall(exchange.builder.emptyResult())
        try await bytes.forEachChunk { slices in try await stream.writeForCall(slices: slices) }
        try await stream.closeWriteForCall()
    }

    /// Sends `result` and ends the call.
    public func respond<Result: Encodable>(_ result: Result) async throws {
        try exchange.markResponded()
        try await stream.writeForCall(try exchange.builder.result(result), finishing: true)
    }

    /// Ends a call that has no result.
    public func respond() async throws {
        try exchange.markResponded()
        try await stream.writeForCall(exchange.builder.emptyResult(), finishing: true)
    }

    /// Sends every item of `items`, then the end marker, and ends the call.
    ///
    /// When `items` fails (its producer throws, before or after items), the caller gets that
    /// error as the call's failure (`[4, …]` + FIN), as it would from a unary call; when the
    /// stream cannot take more (the caller reset it), or the call is cancelled, this throws.
    public func respondStreaming<Item: Encodable & Sendable>(_ items: RPCStream<Item>) async throws {
        try exchange.markResponded()
        let stream = self.stream
        let builder = exchange.builder
        do {
            try await items.forEach { item in
                let message = try builder.item(item)
                do {
                    try await stream.writeForCall(message)
                } catch {
                    throw ResultStreamWriteFailed(underlying: error)
                }
            }
        } catch let failed as ResultStreamWriteFailed {
            throw failed.underlying
        } catch  where !(error is CancellationError) && !Task.isCancelled {
            // The producer failed: the stream still takes messages, so the caller learns why.
            try await stream.writeForCall(
                try builder.failure(RPCFailure(error: error, encoder: builder.encoder)), finishing: true)
            return
        }
        try await stream.writeForCall(builder.emptyResult(), finishing: true)
    }
}

/// A write of a result stream's item failed: the stream is gone, not the producer.
private struct ResultStreamWriteFailed: Error {
    let underlying: any Error
}

/// The server's per-call state shared with the handler: encoding, the call's message reader
/// (which may hold bytes read past the call message) and its share of the session's budget for
/// arriving messages, whether a response was started.
final class RPCCallExchange: Sendable {
    let builder: RPCMessageBuilder
    let context: RPCDecodingContext
    let budget: RPCMessageBudget
    /// The server running the call: where the callee's own callbacks are registered.
    let server: RPCServer
    private let messages: Mutex<RPCMessageReader?>
    private let responded = Atomic<Bool>(false)
    private let respondsWithBytes = Atomic<Bool>(false)

    init(
        builder: RPCMessageBuilder, context: RPCDecodingContext, budget: RPCMessageBudget, server: RPCServer,
        messages: consuming RPCMessageReader
    ) {
        self.builder = builder
        self.context = context
        self.budget = budget
        self.server = server
        self.messages = Mutex(messages)
    }

    /// The reader past the call message; the first caller takes it.
    /// The reader past the call message (holding any bytes read past it): for the first taker of
    /// the caller's streamed argument; nil after.
    func takeMessages() -> RPCMessageReader? {
        messages.withLock { messages in
            defer { messages = nil }
            return messages
        }
    }

    /// - Parameter sendingBytes: the response is raw bytes after `[3, nil]`: once it started, the
    ///   call can only end with FIN or a reset, never another message.
    func markResponded(sendingBytes: Bool = false) throws {
        guard !responded.exchange(true, ordering: .acquiringAndReleasing) else {
            throw RPCError(.protocolViolation, "the call was already answered")
        }
        if sendingBytes { respondsWithBytes.store(true, ordering: .releasing) }
    }

    var hasResponded: Bool { responded.load(ordering: .acquiring) }

    /// The response is a byte stream (see ``markResponded(sendingBytes:)``).
    var hasRespondedWithBytes: Bool { respondsWithBytes.load(ordering: .acquiring) }
}
