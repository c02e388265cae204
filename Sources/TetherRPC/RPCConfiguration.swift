/// Limits and options shared by ``RPCChannel`` (caller) and ``RPCServer`` (callee).
public struct RPCConfiguration: Sendable {
    /// Largest envelope message accepted or sent (call, stream item, result, error), in bytes.
    /// A larger incoming message fails the call with ``RPCError/Code-swift.struct/messageTooLarge``
    /// before anything is allocated for it.
    public var maxMessageBytes = 64 * 1024 * 1024
    /// Limits applied while decoding payloads (nesting, collection and string sizes).
    public var decoderLimits = MessagePackLimits()
    /// Error types thrown by remote implementations that this side knows: an error of one of
    /// these types arrives as itself rather than as a ``RemoteError``.
    public var knownErrors: [any (Error & Codable & Sendable).Type] = []
    /// Asked, when a call fails because the connection is gone, for a better explanation than
    /// ``RPCError/Code-swift.struct/connectionLost`` (a plugin client answers "the plugin exited
    /// with status 3"); returning nil keeps the RPC error.
    public var explainConnectionLoss: (@Sendable () async -> (any Error)?)?

    public init() {}
}
