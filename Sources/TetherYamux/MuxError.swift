/// An error of the yamux protocol layer: a malformed frame, a broken rule of the protocol, a
/// session that ended, or an operation that is not possible in the current state.
///
/// Errors are a struct over a private enum (as `NIOSSHError` does) so that new codes can be added
/// without breaking exhaustive `switch` statements in user code. Equality compares every field, so
/// tests can expect an exact error, including the offending stream and value.
public struct MuxError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: Hashable, Sendable {
            case unsupportedVersion
            case unknownFrameType
            case truncatedHeader
            case frameTooLarge
            case invalidStreamID
            case streamIDParity
            case duplicateStream
            case streamIDReused
            case unexpectedFin
            case dataAfterFin
            case receiveWindowExceeded
            case sendWindowOverflow
            case remoteGoAway
            case localGoAway
            case keepAliveTimeout
            case streamsExhausted
            case tooManyStreams
            case tooManyPings
            case streamClosed
            case connectionClosed
            case streamReset
            case sessionClosed
            case invalidConfiguration
            case cancelled
            case outboundQueueFull
            case writeTimeout
            case receiveBudgetExceeded
        }

        fileprivate let base: Base

        /// A frame header's version byte is not 0. `value` is the version received.
        public static let unsupportedVersion = Code(base: .unsupportedVersion)
        /// A frame header's type byte is not one of Data, WindowUpdate, Ping, GoAway. `value` is the type.
        public static let unknownFrameType = Code(base: .unknownFrameType)
        /// Fewer than 12 bytes were given to decode a header. `value` is the byte count.
        public static let truncatedHeader = Code(base: .truncatedHeader)
        /// A Data frame announces more payload than any window this side ever grants.
        /// `value` is the announced length.
        public static let frameTooLarge = Code(base: .frameTooLarge)
        /// A frame uses stream ID 0 where a stream is required, or a non-zero ID on a Ping or GoAway.
        public static let invalidStreamID = Code(base: .invalidStreamID)
        /// The peer opened a stream with an ID of this side's parity (client odd, server even).
        public static let streamIDParity = Code(base: .streamIDParity)
        /// The peer sent SYN for a stream that is already open.
        public static let duplicateStream = Code(base: .duplicateStream)
        /// The peer sent SYN for a stream ID it used before (or skipped over more than 1,024
        /// streams ago), so a handle still held for the old stream can never read the new one's
        /// data. `value` is the highest ID the peer opened.
        public static let streamIDReused = Code(base: .streamIDReused)
        /// The peer sent FIN twice on one stream.
        public static let unexpectedFin = Code(base: .unexpectedFin)
        /// The peer sent Data after its FIN.
        public static let dataAfterFin = Code(base: .dataAfterFin)
        /// The peer sent more Data than the receive window allowed. `value` is the frame length.
        public static let receiveWindowExceeded = Code(base: .receiveWindowExceeded)
        /// A WindowUpdate would push the send window past `UInt32.max`. `value` is the delta.
        public static let sendWindowOverflow = Code(base: .sendWindowOverflow)
        /// The peer sent GoAway. `value` is the GoAway code as received.
        public static let remoteGoAway = Code(base: .remoteGoAway)
        /// This side sent GoAway with an error code and ended the session. `value` is the code.
        public static let localGoAway = Code(base: .localGoAway)
        /// No reply to a keepalive Ping arrived in time.
        public static let keepAliveTimeout = Code(base: .keepAliveTimeout)
        /// The next stream ID would reach 2³²−2, the limit hashicorp/yamux also enforces.
        public static let streamsExhausted = Code(base: .streamsExhausted)
        /// The session already tracks `maxConcurrentStreams` streams.
        public static let tooManyStreams = Code(base: .tooManyStreams)
        /// `maxOutstandingPings` pings are already waiting for a reply.
        public static let tooManyPings = Code(base: .tooManyPings)
        /// The stream is closed for this operation (reset, fully closed, or write side closed).
        public static let streamClosed = Code(base: .streamClosed)
        /// The connection under the session ended.
        public static let connectionClosed = Code(base: .connectionClosed)
        /// The peer reset the stream (RST), or refused it while it waited for an ACK.
        public static let streamReset = Code(base: .streamReset)
        /// This side closed the session; operations on it and its streams fail.
        public static let sessionClosed = Code(base: .sessionClosed)
        /// A configuration value is out of range. `value` is the offending value.
        public static let invalidConfiguration = Code(base: .invalidConfiguration)
        /// The waiting task was cancelled. The stream is unchanged: nothing was lost, a later call
        /// may continue (reset it to tell the peer).
        public static let cancelled = Code(base: .cancelled)
        /// The peer made this side queue more reply frames (ping replies, RSTs refusing its SYNs)
        /// than ``MuxConfiguration/maxOutboundReplyFrames`` without reading them. `value` is the count.
        public static let outboundQueueFull = Code(base: .outboundQueueFull)
        /// The connection took none of a write for ``MuxConfiguration/writeTimeoutNanoseconds``:
        /// the peer stopped reading. The socket is shut down; queued writes fail.
        public static let writeTimeout = Code(base: .writeTimeout)
        /// Data arrived while the session already held ``MuxConfiguration/maxBufferedBytes`` unread
        /// bytes across its streams: this side reset the stream and dropped the data. `value` is
        /// the frame's length.
        public static let receiveBudgetExceeded = Code(base: .receiveBudgetExceeded)

        public var description: String {
            switch base {
            case .unsupportedVersion: "unsupported frame version"
            case .unknownFrameType: "unknown frame type"
            case .truncatedHeader: "truncated frame header"
            case .frameTooLarge: "data frame too large"
            case .invalidStreamID: "invalid stream ID"
            case .streamIDParity: "stream ID of the wrong parity"
            case .duplicateStream: "duplicate stream"
            case .unexpectedFin: "unexpected FIN"
            case .dataAfterFin: "data after FIN"
            case .receiveWindowExceeded: "receive window exceeded"
            case .sendWindowOverflow: "send window overflow"
            case .remoteGoAway: "remote GoAway"
            case .localGoAway: "local GoAway"
            case .keepAliveTimeout: "keepalive timeout"
            case .streamsExhausted: "stream IDs exhausted"
            case .tooManyStreams: "too many streams"
            case .tooManyPings: "too many outstanding pings"
            case .streamClosed: "stream closed"
            case .connectionClosed: "connection closed"
            case .invalidConfiguration: "invalid configuration"
            case .streamReset: "stream reset by the peer"
            case .sessionClosed: "session closed"
            case .cancelled: "cancelled while waiting"
            case .streamIDReused: "stream ID reused"
            case .outboundQueueFull: "too many reply frames queued for a peer that does not read"
            case .writeTimeout: "write timed out: the peer stopped reading"
            case .receiveBudgetExceeded: "session receive budget exceeded"
            }
        }
    }

    /// What went wrong.
    public var code: Code
    /// The stream concerned, if any.
    public var streamID: UInt32?
    /// The offending value (version, type, length, delta, GoAway code), if any.
    public var value: UInt64?

    /// Creates an error.
    public init(_ code: Code, streamID: UInt32? = nil, value: UInt64? = nil) {
        self.code = code
        self.streamID = streamID
        self.value = value
    }

    /// The GoAway code a session sends when it detects this error in the peer's input, or `nil`
    /// for errors that are not the peer's fault or that end the session without a GoAway.
    public var goAwayCode: GoAwayCode? {
        switch code.base {
        case .unsupportedVersion, .unknownFrameType, .truncatedHeader, .frameTooLarge, .invalidStreamID,
            .streamIDParity, .duplicateStream, .streamIDReused, .unexpectedFin, .dataAfterFin, .receiveWindowExceeded,
            .sendWindowOverflow, .outboundQueueFull:
            .protocolError
        default:
            nil
        }
    }

    public var description: String {
        var text = "MuxError(\(code)"
        if let streamID { text += ", stream \(streamID)" }
        if let value { text += ", value \(value)" }
        return text + ")"
    }
}
