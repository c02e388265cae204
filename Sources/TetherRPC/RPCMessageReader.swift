import TetherMessagePack
import TetherMux
import TetherReactor

/// Reads the envelope messages of one call's stream, in order: the bytes of the stream cut into
/// messages (``RPCMessageFramer``) and parsed (``RPCMessage``). Callers, callees and item readers
/// all read their side of a call through one of these.
///
/// On a server the reader has the call's ``RPCMessageBudget``: a message that needs more of the
/// stream than has been read is counted against the session's budget before more is read.
struct RPCMessageReader: Sendable {
    let stream: MuxStream
    private var framer: RPCMessageFramer
    private let limits: MessagePackLimits
    private let budget: RPCMessageBudget?
    /// Whether the message being read is counted in `budget`: the budget's lock is taken only to
    /// count a message that must wait for more of the stream, and to release it.
    private var counted = false

    init(stream: MuxStream, maxMessageBytes: Int, limits: MessagePackLimits, budget: RPCMessageBudget? = nil) {
        self.stream = stream
        self.framer = RPCMessageFramer(maxMessageBytes: maxMessageBytes)
        self.limits = limits
        self.budget = budget
    }

    /// The next message, or nil when the stream ended (FIN) between two messages.
    ///
    /// - Parameter resettingOnCancellation: whether a read ended by the task's cancellation
    ///   resets the stream (see `readForCall`); false leaves that to the caller, which may still
    ///   want to answer on the stream.
    /// - Throws: ``RPCError`` — `connectionLost` when the stream ended inside a message,
    ///   `resourceExhausted` when the message does not fit in the session's budget, the framer's
    ///   and the parser's errors, and the stream's own (see `readForCall`).
    mutating func next(resettingOnCancellation: Bool = true) async throws -> RPCMessage? {
        while true {
            if let body = try framer.next() {
                if counted {
                    budget?.messageCompleted()
                    counted = false
                }
                return try RPCMessage.decode(body, limits: limits)
            }
            // The buffered bytes are the start of one message; when its length is known and more
            // bytes are needed, it must fit in the budget before they are read.
            if !counted, let budget, let length = framer.incompleteMessageBodyBytes {
                try budget.reserve(forMessageOf: length)
                counted = true
            }
            guard let slice = try await stream.readForCall(resettingOnCancellation: resettingOnCancellation) else {
                if framer.hasPartialMessage {
                    throw RPCError(.connectionLost, "the call's stream \(stream.id) ended inside a message")
                }
                return nil
            }
            framer.append(slice)
        }
    }

    /// The bytes read past the last message returned: the start of raw bytes that follow the
    /// envelope messages on this stream (11.6), or nil when none were read yet.
    mutating func takeRemainder() -> BufferSlice? {
        framer.takeRemainder()
    }
}
