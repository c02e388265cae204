/// Why an RPC failed, when the failure is the RPC layer's rather than the remote implementation's
/// (that one arrives as ``RemoteError``, or as the error itself when its type is known).
///
/// Compare ``code`` with the static members (`error.code == .deadlineExceeded`); ``message`` says
/// more for people. Both travel to the other side of a call.
public struct RPCError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong: one of the static members, compared by ``name``.
    ///
    /// A code is its name rather than a case of a public enum, so new codes can be added without
    /// breaking a `switch` in user code, and a code from a peer of a newer version, whose name
    /// this side does not know, is still a code (equal to none of the static members).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's stable name, the same as its static member's (`"deadlineExceeded"`); it is
        /// what travels on the wire.
        public let name: String

        fileprivate init(name: String) { self.name = name }

        /// The remote side has no service or method with this identifier.
        public static let unknownMethod = Code(name: "unknownMethod")
        /// The arguments did not match the method's parameter list.
        public static let badArguments = Code(name: "badArguments")
        /// A message of the call envelope was malformed or out of order.
        public static let protocolViolation = Code(name: "protocolViolation")
        /// The call's deadline passed before it completed.
        public static let deadlineExceeded = Code(name: "deadlineExceeded")
        /// The call was cancelled on the other side (its caller gave up, or it reset the stream).
        public static let cancelled = Code(name: "cancelled")
        /// The connection or the call's stream ended before the call completed.
        public static let connectionLost = Code(name: "connectionLost")
        /// A message was larger than ``RPCConfiguration/maxMessageBytes``.
        public static let messageTooLarge = Code(name: "messageTooLarge")
        /// A result or stream item could not be decoded as the expected type.
        public static let badResult = Code(name: "badResult")
        /// A stream was iterated a second time (a remote stream can be consumed once).
        public static let streamConsumed = Code(name: "streamConsumed")
        /// The call's stream did not deliver its call message within the server's
        /// ``RPCConfiguration/callMessageTimeout``.
        public static let callMessageTimeout = Code(name: "callMessageTimeout")
        /// A message did not fit in a limit the server sets per session: the bytes of incoming
        /// messages still arriving (``RPCConfiguration/maxIncomingMessageBytesPerSession``).
        public static let resourceExhausted = Code(name: "resourceExhausted")
        /// A call to a callback whose carrying call has returned (it is no longer served).
        public static let callbackReleased = Code(name: "callbackReleased")
        /// A callback cannot be passed: nothing serves the peer's calls on the caller's side (a
        /// channel made without a ``RPCChannel/callbackServer``).
        public static let callbacksUnavailable = Code(name: "callbacksUnavailable")

        /// The sender of a ``ByteStream`` reset it before its end: its producer failed, or it gave
        /// up the call. The bytes that arrived are not all of the stream.
        public static let streamReset = Code(name: "streamReset")

        /// The ``name``.
        public var description: String { name }
    }

    /// What went wrong.
    public let code: Code
    /// What went wrong, for people (the method, the limit, the stream).
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `RPC <code>: <message>`, for logs.
    public var description: String { "RPC \(code): \(message)" }
}

// On the wire as a map {"code": name, "message": text}, so every peer understands it.
extension RPCError: Codable {
    private enum CodingKeys: String, CodingKey { case code, message }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.code = Code(name: try container.decode(String.self, forKey: .code))
        self.message = try container.decode(String.self, forKey: .message)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(code.name, forKey: .code)
        try container.encode(message, forKey: .message)
    }
}
