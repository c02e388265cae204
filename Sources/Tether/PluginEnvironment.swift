/// The environment contract between a host and the plugin it starts (go-plugin's variables, see
/// docs/wire-protocol.md §10), read on the plugin's side and written on the host's.
public struct PluginEnvironment: Sendable, Equatable {
    public static let protocolVersionsVariable = "PLUGIN_PROTOCOL_VERSIONS"
    public static let unixSocketDirectoryVariable = "PLUGIN_UNIX_SOCKET_DIR"
    public static let unixSocketGroupVariable = "PLUGIN_UNIX_SOCKET_GROUP"
    public static let minPortVariable = "PLUGIN_MIN_PORT"
    public static let maxPortVariable = "PLUGIN_MAX_PORT"
    /// Tether's addition: the host's process ID, so that a plugin whose host died before it
    /// could arrange to die with it notices at once.
    public static let hostProcessIDVariable = "TETHER_HOST_PID"
    /// Tether's addition: `tcp` asks the plugin to listen on loopback TCP within the port range
    /// instead of on a unix socket (go-plugin picks TCP only on Windows).
    public static let networkVariable = "TETHER_PLUGIN_NETWORK"
    /// How the explanation of a plugin that refuses the cookie begins, on its stderr: with its
    /// exit status, how a host tells a refused cookie from an exit of the plugin's own.
    static let cookieRefusal = "This binary is a plugin"
    /// Tether's addition: `1` asks the plugin to outlive its host and serve one host after
    /// another (``PluginClientConfiguration/reattachable``): it keeps its listener and does not
    /// take the parent-death signal.
    public static let reattachableVariable = "TETHER_PLUGIN_REATTACHABLE"
    /// Set (to anything but `0`) by a developer who starts a plugin by hand, under a debugger:
    /// the plugin serves without a host, as a reattachable one, and prints its reattach
    /// configuration where a plugin prints its handshake line (docs/guide.md, "Reattach and debug
    /// mode").
    public static let debugVariable = "TETHER_PLUGIN_DEBUG"

    /// The versions the host supports; nil when the host did not say (an old go-plugin host).
    public var hostVersions: [Int]?
    /// Where to create the unix socket; nil: the system's temporary directory.
    public var unixSocketDirectory: String?
    /// The group to give the unix socket (name or numeric gid), if any.
    public var unixSocketGroup: String?
    /// Ports to try for TCP, if the host set them.
    public var portRange: ClosedRange<Int>?
    /// The host's process ID, when a Tether host started us.
    public var hostProcessID: Int32?
    /// Where to listen: TCP when the host asked for it (with its port range, or go-plugin's
    /// default range), else a unix socket.
    public var network: PluginNetwork
    /// The host asked the plugin to be reattachable (``reattachableVariable``).
    public var reattachable = false
    /// A developer started the plugin by hand in debug mode (``debugVariable``): no cookie is
    /// needed, and the plugin serves as a reattachable one.
    public var debug = false

    /// Reads the contract from a plugin's environment.
    ///
    /// - Throws: ``PluginError`` — `cookieMismatch` when the cookie is missing or wrong (its
    ///   message is the explanation to print for a user who ran the plugin by hand),
    ///   `invalidEnvironment` for a version list or port that cannot be used.
    public init(_ environment: [String: String], handshake: HandshakeConfiguration) throws(PluginError) {
        // Debug mode: started by hand, so there is no cookie to check.
        debug = environment[Self.debugVariable].map { !$0.isEmpty && $0 != "0" } ?? false
        guard debug || environment[handshake.cookieKey] == handshake.cookieValue else {
            throw PluginError(
                .cookieMismatch,
                """
                \(Self.cookieRefusal): a host program starts it and talks to it. Run the program \
                that uses this plugin instead (\(handshake.cookieKey) is \
                \(environment[handshake.cookieKey] == nil ? "not set" : "set to another value")).
                """)
        }
        hostVersions = try environment[Self.protocolVersionsVariable].map { (text) throws(PluginError) in
            try ProtocolVersions.parse(text)
        }
        unixSocketDirectory = environment[Self.unixSocketDirectoryVariable].flatMap { $0.isEmpty ? nil : $0 }
        unixSocketGroup = environment[Self.unixSocketGroupVariable].flatMap { $0.isEmpty ? nil : $0 }
        hostProcessID = environment[Self.hostProcessIDVariable].flatMap { Int32($0) }
        switch (environment[Self.minPortVariable], environment[Self.maxPortVariable]) {
        case (nil, nil):
            portRange = nil
        case (let minText?, let maxText?):
            guard let low = Int(minText), let high = Int(maxText), 0 < low, low <= high, high <= 65_535 else {
                throw PluginError(.invalidEnvironment, "port range \(minText)–\(maxText) is not 1…65535, low to high")
            }
            portRange = low...high
        default:
            throw PluginError(.invalidEnvironment, "\(Self.minPortVariable) and \(Self.maxPortVariable) go together")
        }
        reattachable = environment[Self.reattachableVariable] == "1"
        switch environment[Self.networkVariable] {
        case nil, "", "unix": network = .unix
        case "tcp": network = .tcp(ports: portRange ?? PluginNetwork.defaultPorts)
        case let other?:
            throw PluginError(.invalidEnvironment, "\(Self.networkVariable) is \"\(other)\", not unix or tcp")
        }
    }

    /// The version a plugin supporting `supported` serves: the highest it shares with the host;
    /// when it shares none, its own highest, which the host will refuse naming both sides (a host
    /// that did not list versions gets the plugin's highest as well).
    public func chosenVersion(supported: [Int]) -> Int {
        precondition(!supported.isEmpty, "a plugin supports at least one version")
        if let hostVersions, let common = ProtocolVersions.highestCommon(hostVersions, supported) { return common }
        return supported.max()!
    }

    /// The variables a host sets for a plugin it starts.
    public static func hostVariables(
        handshake: HandshakeConfiguration, unixSocketDirectory: String?, hostProcessID: Int32? = nil,
        network: PluginNetwork = .unix, unixSocketGroup: String? = nil, reattachable: Bool = false
    ) -> [String: String] {
        var variables = [
            handshake.cookieKey: handshake.cookieValue,
            protocolVersionsVariable: ProtocolVersions.format(handshake.appVersions),
        ]
        if let hostProcessID { variables[hostProcessIDVariable] = String(hostProcessID) }
        if let unixSocketDirectory { variables[unixSocketDirectoryVariable] = unixSocketDirectory }
        if let unixSocketGroup { variables[unixSocketGroupVariable] = unixSocketGroup }
        if reattachable { variables[reattachableVariable] = "1" }
        if case .tcp(let ports) = network {
            variables[networkVariable] = "tcp"
            variables[minPortVariable] = String(ports.lowerBound)
            variables[maxPortVariable] = String(ports.upperBound)
        }
        return variables
    }
}
