#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What a host needs to reach a plugin that is already running (go-plugin's `ReattachConfig`):
/// its address, its process ID, and what was agreed with it. A running client exports it
/// (``PluginClient/reattachConfiguration``), a plugin served in debug mode prints it, and
/// ``PluginClient/reattach(_:configuration:on:)`` uses it instead of launching.
///
/// Its JSON form (docs/wire-protocol.md §13), one object:
///
/// ```json
/// {"protocol":"tether","coreVersion":1,"appVersion":1,"network":"unix",
///  "address":"/tmp/tether-4242-17/plugin-4243-99.sock","pid":4243,"plugins":["kv"],"debug":false}
/// ```
///
/// Nothing in it is trusted: ``PluginClient/reattach(_:configuration:on:)`` checks that the
/// process is alive and is the one serving the address before it uses the connection, and it
/// signals the process only through a pidfd.
public struct ReattachConfiguration: Codable, Sendable, Hashable {
    /// The RPC protocol: `tether`.
    public var protocolName: String
    /// The core protocol version: 1.
    public var coreVersion: Int
    /// The application protocol version the plugin serves.
    public var appVersion: Int
    /// `unix` or `tcp`.
    public var network: String
    /// A unix socket's path, or `127.0.0.1:PORT`.
    public var address: String
    /// The plugin's process ID.
    public var pid: Int32
    /// The names of the plugins (services) it serves, when known; empty when not.
    public var plugins: [String]
    /// The plugin runs on its own (started by hand, under a debugger): a host's
    /// ``PluginClient/stop()`` only detaches from it, so that the next host can reattach, as
    /// go-plugin's `Test` flag. ``PluginClient/kill()`` still ends it.
    public var debug: Bool

    public init(
        appVersion: Int, network: HandshakeLine.Network, address: String, pid: Int32, plugins: [String] = [],
        debug: Bool = false
    ) {
        self.protocolName = HandshakeLine.tetherProtocol
        self.coreVersion = HandshakeLine.coreProtocolVersion
        self.appVersion = appVersion
        self.network = network.rawValue
        self.address = address
        self.pid = pid
        self.plugins = plugins
        self.debug = debug
    }

    private enum CodingKeys: String, CodingKey {
        case protocolName = "protocol"
        case coreVersion, appVersion, network, address, pid, plugins, debug
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        protocolName = try container.decode(String.self, forKey: .protocolName)
        coreVersion = try container.decode(Int.self, forKey: .coreVersion)
        appVersion = try container.decode(Int.self, forKey: .appVersion)
        network = try container.decode(String.self, forKey: .network)
        address = try container.decode(String.self, forKey: .address)
        pid = try container.decode(Int32.self, forKey: .pid)
        plugins = try container.decodeIfPresent([String].self, forKey: .plugins) ?? []
        debug = try container.decodeIfPresent(Bool.self, forKey: .debug) ?? false
    }

    /// The environment variable that makes ``PluginClient/startOrReattach(_:on:environment:)``
    /// (and so ``PluginHost/start(_:)``) reattach instead of launching: a JSON object from a
    /// plugin's executable (its path as configured, or its file name) to its configuration, the
    /// form ``environmentValue(_:)`` writes and a debug-mode plugin prints.
    public static let environmentVariable = "TETHER_REATTACH_PLUGINS"

    /// The value of ``environmentVariable`` for `plugins` (executable or file name → configuration):
    /// one line of JSON, keys sorted.
    public static func environmentValue(_ plugins: [String: ReattachConfiguration]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a dictionary of plain values cannot fail.
        let data = (try? encoder.encode(plugins)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// The configuration ``environmentVariable`` in `environment` gives for `executable`: the
    /// entry under `name` when given (a built-in plugin's name), else under its path, else under
    /// its file name; nil when there is none (or no variable).
    ///
    /// - Throws: ``PluginError/Code-swift.struct/invalidEnvironment`` when the variable is not
    ///   such a JSON object.
    public static func fromEnvironment(_ environment: [String: String], executable: String, name: String? = nil)
        throws(PluginError)
        -> ReattachConfiguration?
    {
        guard let text = environment[environmentVariable], !text.isEmpty else { return nil }
        let plugins: [String: ReattachConfiguration]
        do {
            plugins = try JSONDecoder().decode([String: ReattachConfiguration].self, from: Data(text.utf8))
        } catch {
            throw PluginError(
                .invalidEnvironment, "\(environmentVariable) is not a JSON object of reattach configurations: \(error)")
        }
        if let name, let entry = plugins[name] { return entry }
        let fileName = executable.split(separator: "/").last.map(String.init) ?? executable
        return plugins[executable] ?? plugins[fileName]
    }

    /// The line a plugin served in debug mode prints on stdout:
    /// `TETHER_REATTACH_PLUGINS='{"NAME":{…}}'`, ready to paste after `export ` in a shell (a
    /// `'` inside the JSON is written `\u0027`, so the quoting holds).
    public static func debugLine(name: String, _ configuration: ReattachConfiguration) -> String {
        let json = environmentValue([name: configuration]).replacing("'", with: "\\u0027")
        return "\(environmentVariable)='\(json)'"
    }

    /// The configuration a line of ``debugLine(name:_:)`` holds for `name` (the first entry when
    /// `name` is nil); nil when the line is not one.
    public static func parseDebugLine(_ line: String, name: String? = nil) -> ReattachConfiguration? {
        let prefix = "\(environmentVariable)='"
        guard line.hasPrefix(prefix), line.hasSuffix("'"), line.count > prefix.count else { return nil }
        let json = String(line.dropFirst(prefix.count).dropLast())
        guard let plugins = try? JSONDecoder().decode([String: ReattachConfiguration].self, from: Data(json.utf8))
        else { return nil }
        if let name { return plugins[name] }
        return plugins.values.first
    }
}
