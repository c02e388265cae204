import TetherMux

/// Reads the envelope messages of one call's stream, in order: the bytes of the stream cut into
/// messages (``RPCMessageFramer``) and parsed (``RPCMessage``). Callers, callees and item readers
/// all read their side of a call through one of these.
struct RPCMessageReader: Sendable {
    let stream: MuxStream
    private var framer: RPCMessageFramer
    private let limits: MessagePackLimits

    init(stream: MuxStream, maxMessageBytes: Int, limits: MessagePackLimits) {
        self.stream = stream
        self.framer = RPCMessageFramer(maxMessageBytes: maxMessageBytes)
        self.limits = limits
    }

    /// The next message, or nil when the stream ended (FIN) between two messages.
    ///
    /// - Parameter resettingOnCancellation: whether a read ended by the task's cancellation
    ///   resets the stream (see `readForCall`); false leaves that to the caller, which may still
    ///   want to answer on the stream.
    /// - Throws: ``RPCError`` — `connectionLost` when the stream ended inside a message, the
    ///   framer's and the parser's errors, and the stream's own (see `readForCall`).
    mutating func next(resettingOnCancellation: Bool = true) async throws -> RPCMessage? {
        while true {
            if let body = try framer.next() { return try RPCMessage.decode(body, limits: limits) }
            guard let slice = try await stream.readForCall(resettingOnCancellation: resettingOnCancellation) else {
                if framer.hasPartialMessage {
                    throw RPCError(.connectionLost, "the call's stream \(stream.id) ended inside a message")
                }
                return nil
            }
            framer.append(slice)
        }
    }
}
