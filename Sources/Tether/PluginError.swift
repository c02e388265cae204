/// Why a plugin could not be started, reached or kept: each failure of the plugin system has its
/// own code, so a host can tell "the binary is missing" from "it answered in another protocol".
public struct PluginError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// The handshake line could not be parsed.
        public static let malformedHandshake = Code(name: "malformedHandshake")
        /// The plugin speaks another core protocol version (Tether and go-plugin speak 1).
        public static let coreVersionMismatch = Code(name: "coreVersionMismatch")
        /// Host and plugin share no application protocol version.
        public static let noCommonVersion = Code(name: "noCommonVersion")
        /// The plugin offered a network other than `unix` or `tcp`.
        public static let unsupportedNetwork = Code(name: "unsupportedNetwork")
        /// The plugin speaks another RPC protocol (go-plugin's `netrpc` or `grpc`, say).
        public static let unsupportedProtocol = Code(name: "unsupportedProtocol")
        /// The plugin asked for TLS (a server certificate in the handshake), which Tether does not do.
        public static let tlsUnsupported = Code(name: "tlsUnsupported")
        /// The magic cookie is missing or wrong: the binary was not started by a host.
        public static let cookieMismatch = Code(name: "cookieMismatch")
        /// An environment variable of the plugin contract has a value that cannot be used.
        public static let invalidEnvironment = Code(name: "invalidEnvironment")
        /// The plugin executable does not exist.
        public static let executableNotFound = Code(name: "executableNotFound")
        /// The plugin executable exists but cannot be executed.
        public static let notExecutable = Code(name: "notExecutable")
        /// The plugin process ended before it printed its handshake (status and stderr's tail in
        /// the message).
        public static let exitedBeforeHandshake = Code(name: "exitedBeforeHandshake")
        /// No handshake within the start timeout (the plugin was killed).
        public static let startTimeout = Code(name: "startTimeout")
        /// The plugin process has exited (its status or signal in the message): its calls fail.
        public static let pluginExited = Code(name: "pluginExited")
        /// The process on the other end of the connection is not the expected one.
        public static let peerMismatch = Code(name: "peerMismatch")
        /// The plugin could not be started, listened on or connected to (the system's error in the
        /// message).
        public static let launchFailed = Code(name: "launchFailed")
        /// `dispense` was asked for a plugin name the configuration does not list.
        public static let unknownPlugin = Code(name: "unknownPlugin")
        /// The ``PluginHost`` is shutting down and starts no more plugins.
        public static let hostShutDown = Code(name: "hostShutDown")
        public var description: String { name }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "plugin \(code): \(message)" }
}
