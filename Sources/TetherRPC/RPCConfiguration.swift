import TetherMessagePack

/// Limits and options shared by ``RPCChannel`` (caller) and ``RPCServer`` (callee).
///
/// The `…PerSession` limits and ``callMessageTimeout`` are the server's: they bound what the
/// calls arriving on one ``TetherMux/MuxSession`` can make an ``RPCServer`` hold, whatever the
/// peer does (opens streams and never sends a call, sends part of a message and stops). A channel
/// ignores them.
public struct RPCConfiguration: Sendable {
    /// Largest envelope message accepted or sent (call, stream item, result, error), in bytes.
    /// A larger incoming message fails the call with ``RPCError/Code-swift.struct/messageTooLarge``
    /// before anything is allocated for it.
    public var maxMessageBytes = 64 * 1024 * 1024
    /// Server: calls of one session that run at once (default 1,024). A call counts from when
    /// its stream is taken from the session until its handler has returned and the call has
    /// ended, long-lived streaming calls included.
    ///
    /// At the limit the server takes no more streams from the session until a call ends: new
    /// streams wait in the mux's accept backlog (``TetherMux/MuxConfiguration/acceptBacklog``,
    /// not acknowledged), and the peer's opens wait on its own backlog of unacknowledged streams
    /// — backpressure, not failure. The default is four times those backlogs' default (256), so
    /// a peer that fills its backlog is not held back by this limit in normal use, while a peer
    /// that opens streams and never finishes its calls holds at most 1,024 tasks and streams.
    public var maxConcurrentCallsPerSession = 1_024
    /// Server: time a call's stream has, from when its call starts (the stream is taken and
    /// counted in ``maxConcurrentCallsPerSession``), to deliver its complete call message;
    /// `nil` waits without limit. Default 10 s.
    ///
    /// A caller sends the call message in the stream's first write, so it arrives within a round
    /// trip plus the time its bytes take; a stream without it by then is failed: the caller gets
    /// ``RPCError/Code-swift.struct/callMessageTimeout`` (then the stream is reset, as its
    /// remaining bytes are not read), or a reset when the stream cannot carry that message any
    /// more. The call's task, stream and buffered bytes are released.
    public var callMessageTimeout: Duration? = .seconds(10)
    /// Server: bytes that messages still arriving may hold, across all calls of one session
    /// (default 128 MiB, twice the default ``maxMessageBytes``: one largest message always fits,
    /// with as much again for the other calls). Also bounds the items of streamed arguments.
    ///
    /// A message that arrives whole in what the stream has delivered is not counted. One that
    /// needs more of the stream's bytes is counted at its declared body length (the length
    /// prefix, as ``maxMessageBytes`` counts it) from the moment the server knows that length
    /// until the message is complete or its call ends; the bytes it holds never exceed that.
    /// Besides these, a call holds at most the one chunk of stream data it has just read.
    ///
    /// A message that does not fit beside the messages already arriving fails its call at once
    /// with ``RPCError/Code-swift.struct/resourceExhausted``, before its body is read; messages
    /// admitted earlier are never cut short. Failing is chosen over waiting (not reading the
    /// stream until room is made, which would stop the peer through the mux window) because
    /// waiting can deadlock: a peer may finish the messages that hold the budget only after the
    /// one that waits (a task that writes its calls one after another does), and then nothing
    /// moves. The limit applies per session, so only the peer that sends so much at once sees its
    /// calls fail.
    /// A value below ``maxMessageBytes`` makes it the largest message that can arrive in more
    /// than one chunk.
    public var maxIncomingMessageBytesPerSession = 128 * 1024 * 1024
    /// The time each call to a callback the peer passed (an `any P & Sendable` argument) may
    /// take, or nil for none: a call past it fails with
    /// ``RPCError/Code-swift.struct/deadlineExceeded`` on this side and is cancelled on the
    /// peer's. Applies to the channels ``RPCIncomingCall/channel(to:)`` makes.
    public var callbackTimeout: Duration?
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
