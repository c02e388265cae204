/// An error of the yamux protocol layer: a malformed frame, a broken rule of the protocol, a
/// session that ended, or an operation that is not possible in the current state.
///
/// Compare ``code`` with the static members (`error.code == .streamReset`); ``message`` says the
/// same for people. Equality compares every field, so tests can expect an exact error, including
/// the offending stream and value.
public struct MuxError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong: one of the static members, compared by ``name``.
    ///
    /// A code is its name rather than a case of a public enum, so new codes can be added without
    /// breaking a `switch` in user code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's stable name, the same as its static member's (`"streamReset"`).
        public let name: String

        fileprivate init(name: String) { self.name = name }

        /// A frame header's version byte is not 0. `value` is the version received.
        public static let unsupportedVersion = Code(name: "unsupportedVersion")
        /// A frame header's type byte is not one of Data, WindowUpdate, Ping, GoAway. `value` is the type.
        public static let unknownFrameType = Code(name: "unknownFrameType")
        /// Fewer than 12 bytes were given to decode a header. `value` is the byte count.
        public static let truncatedHeader = Code(name: "truncatedHeader")
        /// A Data frame announces more payload than any window this side ever grants.
        /// `value` is the announced length.
        public static let frameTooLarge = Code(name: "frameTooLarge")
        /// A frame uses stream ID 0 where a stream is required, or a non-zero ID on a Ping or GoAway.
        public static let invalidStreamID = Code(name: "invalidStreamID")
        /// The peer opened a stream with an ID of this side's parity (client odd, server even).
        public static let streamIDParity = Code(name: "streamIDParity")
        /// The peer sent SYN for a stream that is already open.
        public static let duplicateStream = Code(name: "duplicateStream")
        /// The peer sent SYN for a stream ID it used before (or skipped over more than 1,024
        /// streams ago), so a handle still held for the old stream can never read the new one's
        /// data. `value` is the highest ID the peer opened.
        public static let streamIDReused = Code(name: "streamIDReused")
        /// The peer sent FIN twice on one stream.
        public static let unexpectedFin = Code(name: "unexpectedFin")
        /// The peer sent Data after its FIN.
        public static let dataAfterFin = Code(name: "dataAfterFin")
        /// The peer sent more Data than the receive window allowed. `value` is the frame length.
        public static let receiveWindowExceeded = Code(name: "receiveWindowExceeded")
        /// A WindowUpdate would push the send window past `UInt32.max`. `value` is the delta.
        public static let sendWindowOverflow = Code(name: "sendWindowOverflow")
        /// The peer sent GoAway. `value` is the GoAway code as received.
        public static let remoteGoAway = Code(name: "remoteGoAway")
        /// This side sent GoAway with an error code and ended the session. `value` is the code.
        public static let localGoAway = Code(name: "localGoAway")
        /// No reply to a keepalive Ping arrived in time.
        public static let keepAliveTimeout = Code(name: "keepAliveTimeout")
        /// The next stream ID would reach 2³²−2, the limit hashicorp/yamux also enforces.
        public static let streamsExhausted = Code(name: "streamsExhausted")
        /// The session already tracks `maxConcurrentStreams` streams.
        public static let tooManyStreams = Code(name: "tooManyStreams")
        /// `maxOutstandingPings` pings are already waiting for a reply.
        public static let tooManyPings = Code(name: "tooManyPings")
        /// The stream is closed for this operation (reset, fully closed, or write side closed).
        public static let streamClosed = Code(name: "streamClosed")
        /// The connection under the session ended. `value` is the errno when one of this side's
        /// socket operations failed (`ECONNRESET`, `EPIPE`, …); nil at the end of the input
        /// (the peer closed the connection) and when the reactor stopped.
        public static let connectionClosed = Code(name: "connectionClosed")
        /// The peer reset the stream (RST), or refused it while it waited for an ACK.
        public static let streamReset = Code(name: "streamReset")
        /// This side closed the session; operations on it and its streams fail.
        public static let sessionClosed = Code(name: "sessionClosed")
        /// A configuration value is out of range. `value` is the offending value.
        public static let invalidConfiguration = Code(name: "invalidConfiguration")
        /// The waiting task was cancelled. The stream is unchanged: nothing was lost, a later call
        /// may continue (reset it to tell the peer).
        public static let cancelled = Code(name: "cancelled")
        /// The peer made this side queue more reply frames (ping replies, RSTs refusing its SYNs)
        /// than ``MuxConfiguration/maxOutboundReplyFrames`` without reading them. `value` is the count.
        public static let outboundQueueFull = Code(name: "outboundQueueFull")
        /// The connection took none of a write for ``MuxConfiguration/writeTimeoutNanoseconds``:
        /// the peer stopped reading. The socket is shut down; queued writes fail.
        public static let writeTimeout = Code(name: "writeTimeout")
        /// Data arrived while the session already held ``MuxConfiguration/maxBufferedBytes`` unread
        /// bytes across its streams: this side reset the stream and dropped the data. `value` is
        /// the frame's length.
        public static let receiveBudgetExceeded = Code(name: "receiveBudgetExceeded")

        /// The ``name``.
        public var description: String { name }
    }

    /// What went wrong.
    public var code: Code
    /// The stream concerned, if any.
    public var streamID: UInt32?
    /// The offending value (version, type, length, delta, GoAway code, a failed socket's errno),
    /// if any.
    public var value: UInt64?

    /// Creates an error.
    public init(_ code: Code, streamID: UInt32? = nil, value: UInt64? = nil) {
        self.code = code
        self.streamID = streamID
        self.value = value
    }

    /// What went wrong, for people: a phrase for the ``code`` (`"stream reset by the peer"`).
    public var message: String {
        if code == .connectionClosed, value != nil { return "connection failed" }
        return switch code {
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
        default: code.name
        }
    }

    /// The GoAway code a session sends when it detects this error in the peer's input, or `nil`
    /// for errors that are not the peer's fault or that end the session without a GoAway.
    public var goAwayCode: GoAwayCode? {
        switch code {
        case .unsupportedVersion, .unknownFrameType, .truncatedHeader, .frameTooLarge, .invalidStreamID,
            .streamIDParity, .duplicateStream, .streamIDReused, .unexpectedFin, .dataAfterFin, .receiveWindowExceeded,
            .sendWindowOverflow, .outboundQueueFull:
            .protocolError
        default:
            nil
        }
    }

    /// `mux <code>[ on stream <id>][ (value <value>)]: <message>`, for logs (`errno` in place of
    /// `value` for a failed connection's errno).
    public var description: String {
        var text = "mux \(code)"
        if let streamID { text += " on stream \(streamID)" }
        if let value { text += code == .connectionClosed ? " (errno \(value))" : " (value \(value))" }
        return text + ": " + message
    }
}
