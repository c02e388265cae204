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
    /// This bounds the action queue even when a peer floods small frames such as pings.
    public var maxPendingActions = 1024

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
    }
}
