/// What a ``MuxSession`` has done; read with ``MuxSession/counters``.
public struct MuxCounters: Sendable, Hashable {
    /// Frames written (control and data).
    public var framesSent: UInt64 = 0
    /// `send` calls on the socket (each one `sendmsg` batch or more for very long batches).
    public var socketSends: UInt64 = 0
    /// Payload bytes sent in Data frames.
    public var payloadBytesSent: UInt64 = 0
    /// Payload bytes delivered to streams.
    public var payloadBytesReceived: UInt64 = 0
    /// Bytes our own code copied on the data path (e.g. writes of `[UInt8]`, which must be put
    /// into a buffer of ours). Zero when users write ``TetherReactor/BufferSlice``s.
    public var bytesCopied: UInt64 = 0
    /// Streams opened by this side / accepted from the peer.
    public var streamsOpened: UInt64 = 0
    public var streamsAccepted: UInt64 = 0
    /// Times a writer waited because the peer's window for its stream was used up (the peer
    /// reads slower than this side writes).
    public var windowStalls: UInt64 = 0
    /// Times a writer waited because ``MuxConfiguration/maxOutboundDataBytes`` were queued for
    /// the connection (the connection is slower than the writers).
    public var outboundStalls: UInt64 = 0

    public init() {}
}
