import SystemPackage
import TetherReactor

/// Why a plugin could not be started, reached or kept: each failure of the plugin system has its
/// own code, so a host can tell "the binary is missing" from "it answered in another protocol".
///
/// Compare ``code`` with the static members (`error.code == .startTimeout`); ``message`` says
/// more for people (an exit status, the tail of the plugin's stderr, a limit).
public struct PluginError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong: one of the static members, compared by ``name``.
    ///
    /// A code is its name rather than a case of a public enum, so new codes can be added without
    /// breaking a `switch` in user code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's stable name, the same as its static member's (`"startTimeout"`).
        public let name: String

        fileprivate init(name: String) { self.name = name }

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
        /// The magic cookie is missing or wrong. In a plugin: the binary was not started by a
        /// host. In a host: the plugin refused the host's cookie (it exited with
        /// ``PluginServer/cookieMismatchExitStatus`` before its handshake), so the two were built
        /// with different ``HandshakeConfiguration``s or the binary is not this host's plugin.
        public static let cookieMismatch = Code(name: "cookieMismatch")
        /// An environment variable of the plugin contract has a value that cannot be used.
        public static let invalidEnvironment = Code(name: "invalidEnvironment")
        /// The plugin executable does not exist.
        public static let executableNotFound = Code(name: "executableNotFound")
        /// The plugin's binary failed its ``PluginClientConfiguration/verifier``'s check (a digest
        /// or signature that does not match, no trusted signature): nothing was run.
        public static let verificationFailed = Code(name: "verificationFailed")
        /// The plugin executable exists but cannot be executed.
        public static let notExecutable = Code(name: "notExecutable")
        /// The plugin process ended before it printed its handshake (status and stderr's tail in
        /// the message).
        public static let exitedBeforeHandshake = Code(name: "exitedBeforeHandshake")
        /// The plugin was not ready within ``PluginClientConfiguration/startTimeout`` — from spawn
        /// to a session with its first streams open; the message names the phase it was in
        /// (reading the handshake line, connecting, checking the peer, starting the session,
        /// opening streams). The plugin was killed and reaped.
        public static let startTimeout = Code(name: "startTimeout")
        /// The plugin process has exited: its calls fail. The message has its exit status or
        /// signal and the tail of what it wrote to stderr (a crash's message, say).
        public static let pluginExited = Code(name: "pluginExited")
        /// ``PluginClient/ping(timeout:)`` got no answer within its timeout: the plugin process
        /// runs, but does not serve its control stream (stuck, or not reading).
        public static let pingTimeout = Code(name: "pingTimeout")
        /// The host ran out of file descriptors starting the plugin (`EMFILE`: this process's
        /// `RLIMIT_NOFILE`, whose soft value the message names; or `ENFILE`: the system's table).
        /// Nothing of the attempt is left behind; plugins already running are not affected.
        public static let tooManyOpenFiles = Code(name: "tooManyOpenFiles")
        /// The process on the other end of the connection is not the expected one.
        public static let peerMismatch = Code(name: "peerMismatch")
        /// The plugin could not be started, listened on or connected to (the system's error in the
        /// message).
        public static let launchFailed = Code(name: "launchFailed")
        /// `dispense` was asked for a plugin name the configuration does not list.
        public static let unknownPlugin = Code(name: "unknownPlugin")
        /// A ``SupervisedPlugin`` is being restarted after an exit of its own, and the client
        /// asked for does not wait (``RestartPolicy/WhileRestarting/failFast``) or the plugin was
        /// not back within the wait.
        public static let pluginRestarting = Code(name: "pluginRestarting")
        /// A ``SupervisedPlugin`` exited more often than its ``RestartPolicy`` allows within the
        /// window: it stays down (the message has the last exit).
        public static let restartsExhausted = Code(name: "restartsExhausted")
        /// A ``SupervisedPlugin`` was stopped and serves no more clients.
        public static let pluginStopped = Code(name: "pluginStopped")
        /// The ``PluginHost`` is shutting down and starts no more plugins.
        public static let hostShutDown = Code(name: "hostShutDown")
        /// A reattach configuration's process does not exist (it has exited: the configuration
        /// is stale). Nothing was signalled.
        public static let pluginNotRunning = Code(name: "pluginNotRunning")
        /// A reattach configuration's address could not be connected to (its socket is gone, or
        /// nothing listens there).
        public static let pluginUnreachable = Code(name: "pluginUnreachable")
        /// A reattach configuration has a value that cannot name a plugin (a pid that is not
        /// positive, an empty address).
        public static let invalidReattachConfiguration = Code(name: "invalidReattachConfiguration")
        /// The plugin has exited, but it is not this process's child (a reattached plugin), so its
        /// exit status is its parent's to know.
        public static let exitStatusUnknown = Code(name: "exitStatusUnknown")

        /// The ``name``.
        public var description: String { name }
    }

    /// What went wrong.
    public let code: Code
    /// What went wrong, for people.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `plugin <code>: <message>`, for logs.
    public var description: String { "plugin \(code): \(message)" }
}

extension PluginError {
    /// `tooManyOpenFiles` when `error` (from the reactor) is `EMFILE` or `ENFILE`, naming what the
    /// host was doing and its descriptor limit; nil for any other error.
    static func descriptorsExhausted(_ error: any Error, while step: String) -> PluginError? {
        guard let errno = (error as? ReactorError)?.errno else { return nil }
        switch errno {
        case .tooManyOpenFiles:
            var limit = "its limit of open file descriptors (RLIMIT_NOFILE)"
            if let values = try? ProcessControl.openFileLimit() {
                let hard = values.hard == Int.max ? "" : "; hard limit \(values.hard)"
                limit = "its limit of \(values.soft) open file descriptors (the soft RLIMIT_NOFILE\(hard))"
            }
            return PluginError(.tooManyOpenFiles, "\(step): the host has reached \(limit)")
        case .tooManyOpenFilesInSystem:
            return PluginError(.tooManyOpenFiles, "\(step): the system's table of open files is full (ENFILE)")
        default:
            return nil
        }
    }
}
