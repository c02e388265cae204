/// Which end of the connection a session is: it decides the parity of the stream IDs it opens.
public enum MuxRole: Hashable, Sendable {
    /// Opens odd stream IDs from 1 (the plugin host, like go-plugin's yamux client).
    case client
    /// Opens even stream IDs from 2 (the plugin).
    case server

    /// The first stream ID this role opens.
    public var firstStreamID: UInt32 {
        self == .client ? 1 : 2
    }

    /// The first stream ID the other end opens.
    @usableFromInline var peerFirstStreamID: UInt32 {
        self == .client ? 2 : 1
    }

    /// Whether `streamID` is one this role opens.
    public func opens(_ streamID: UInt32) -> Bool {
        streamID % 2 == firstStreamID % 2
    }
}

/// Limits and timings of a session. The defaults are hashicorp/yamux's `DefaultConfig` where
/// yamux has a setting, so a default Tether session behaves like a default Go peer.
public struct MuxConfiguration: Hashable, Sendable {
    /// Incoming streams that may wait to be accepted; a SYN beyond this gets RST (yamux `AcceptBacklog`).
    public var acceptBacklog = 256
    /// Outbound streams that may wait for the peer's ACK; opening more must wait
    /// (the libp2p yamux "ACK backlog", the same 256 that hashicorp's semaphore enforces).
    public var maxUnacknowledgedStreams = 256
    /// Streams tracked at once, both directions. Beyond it an incoming SYN gets RST and opening
    /// fails, so a peer cannot grow the stream table without bound (yamux has no such limit).
    /// An idle stream costs about 300 bytes per side, so the default bounds that at ~80 MB.
    public var maxConcurrentStreams = 262_144
    /// The receive window each stream advertises when it opens (yamux `MaxStreamWindowSize`).
    public var streamWindowBytes: UInt32 = ReceiveWindow.initialWindowBytes
    /// The largest receive window auto-tuning may grow a stream to.
    public var maxStreamWindowBytes: UInt32 = 16 * 1024 * 1024
    /// Total window growth above `streamWindowBytes` allowed across all streams of the session:
    /// the bound on memory that fast streams may make the peer send ahead.
    public var sessionReceiveBudgetBytes: UInt64 = 256 * 1024 * 1024
    /// Whether receive windows grow when updates come faster than two round trips.
    public var windowAutoTuning = true
    /// The largest Data payload this side sends in one frame, so one bulk stream cannot hold the
    /// connection for long and control frames interleave.
    public var maxFrameBytes = 64 * 1024
    /// Time between keepalive pings, `nil` to disable them (yamux `KeepAliveInterval`, 30 s).
    public var keepAliveIntervalNanoseconds: UInt64? = 30_000_000_000
    /// How long a keepalive ping may go unanswered before the session fails
    /// (yamux `ConnectionWriteTimeout`, 10 s).
    public var keepAliveTimeoutNanoseconds: UInt64 = 10_000_000_000
    /// Pings (user, keepalive, round-trip probes) that may wait for a reply at once.
    public var maxOutstandingPings = 64
    /// Actions a session queues before it stops parsing received frames until the caller drains them.
    /// This bounds the action queue even when a peer floods small Data frames, one delivery each
    /// (ping replies go straight to the outbound buffer and are bounded by the reply limits).
    public var maxPendingActions = 1024
    /// Reply frames — what the peer's own frames make this side send: ping replies and RSTs
    /// refusing its SYNs or dropping its data — that may wait for the connection (queued, or in a
    /// write the connection has not finished). Past it the session fails with
    /// ``MuxError/Code-swift.struct/outboundQueueFull`` and GoAway(protocol error).
    public var maxOutboundReplyFrames = 4096
    /// Reply frames waiting for the connection at which the session stops reading the peer until
    /// the connection takes them (``ReceiveProgress/outputBlocked``): a peer that floods pings or
    /// SYNs and never reads then only fills its own socket, and the session ends by the write
    /// timeout. At or above ``maxOutboundReplyFrames`` the session never stops reading and fails
    /// at the limit instead.
    public var pauseInputAtReplyFrames = 1024
    /// Data payload bytes that may wait for the connection (queued or in a write it has not
    /// finished). Writers wait beyond it, so a peer that grants credit but never reads holds at
    /// most this much of the writers' memory.
    public var maxOutboundDataBytes = 4 * 1024 * 1024
    /// Payload bytes delivered to streams and not yet read, across all the session's streams.
    /// A window update is granted only while the unread bytes, the credit already granted and not
    /// used yet, and its own credit stay within it; otherwise it waits, in order, until reads make
    /// room. So a peer that keeps to its windows passes it only with the implicit 256 KiB every
    /// new stream starts with: data that arrives past it resets its stream with
    /// ``MuxError/Code-swift.struct/receiveBudgetExceeded`` and is dropped, and new incoming
    /// streams are refused with RST while it is reached.
    public var maxBufferedBytes: UInt64 = 64 * 1024 * 1024
    /// How long a write may wait for the connection to take any of it before the session fails
    /// with ``MuxError/Code-swift.struct/writeTimeout`` and its socket is shut down (yamux
    /// `ConnectionWriteTimeout`, 10 s). Also bounds ``MuxSession/close()``: queued frames are
    /// written for at most this long.
    public var writeTimeoutNanoseconds: UInt64 = 10_000_000_000

    /// The default configuration.
    public init() {}

    /// Checks that every value is in range.
    ///
    /// - Throws: ``MuxError/Code-swift.struct/invalidConfiguration`` with the offending value.
    public func validate() throws(MuxError) {
        func check(_ condition: Bool, _ value: some BinaryInteger) throws(MuxError) {
            guard condition else { throw MuxError(.invalidConfiguration, value: UInt64(truncatingIfNeeded: value)) }
        }
        try check(acceptBacklog > 0, acceptBacklog)
        try check(maxUnacknowledgedStreams > 0, maxUnacknowledgedStreams)
        try check(maxConcurrentStreams > 0, maxConcurrentStreams)
        try check(streamWindowBytes >= ReceiveWindow.initialWindowBytes, streamWindowBytes)
        try check(maxStreamWindowBytes >= streamWindowBytes, maxStreamWindowBytes)
        try check(maxFrameBytes > 0 && maxFrameBytes <= Int(UInt32.max), maxFrameBytes)
        try check(keepAliveIntervalNanoseconds.map { $0 > 0 } ?? true, keepAliveIntervalNanoseconds ?? 0)
        try check(keepAliveTimeoutNanoseconds > 0, keepAliveTimeoutNanoseconds)
        try check(maxOutstandingPings > 0, maxOutstandingPings)
        try check(maxPendingActions >= 16, maxPendingActions)
        try check(maxOutboundReplyFrames > 0, maxOutboundReplyFrames)
        try check(pauseInputAtReplyFrames > 0, pauseInputAtReplyFrames)
        try check(maxOutboundDataBytes > 0, maxOutboundDataBytes)
        try check(maxBufferedBytes >= UInt64(streamWindowBytes), maxBufferedBytes)
        try check(writeTimeoutNanoseconds > 0, writeTimeoutNanoseconds)
    }
}
