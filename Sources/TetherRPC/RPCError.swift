/// Why an RPC failed, when the failure is the RPC layer's rather than the remote implementation's
/// (that one arrives as ``RemoteError``).
public struct RPCError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// The remote side has no method with this identifier.
        public static let unknownMethod = Code(name: "unknownMethod")
        /// The arguments did not match the method's parameter list.
        public static let badArguments = Code(name: "badArguments")
        /// A frame of the call envelope was malformed.
        public static let protocolViolation = Code(name: "protocolViolation")
        /// The call's deadline passed before it completed.
        public static let deadlineExceeded = Code(name: "deadlineExceeded")
        /// The call was cancelled (by the caller's task, or the stream was reset by the peer).
        public static let cancelled = Code(name: "cancelled")
        /// The stream ended before the response arrived.
        public static let connectionLost = Code(name: "connectionLost")
        /// An envelope or payload was larger than the configured limit.
        public static let messageTooLarge = Code(name: "messageTooLarge")
        public var description: String { name }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "RPC \(code): \(message)" }
}
