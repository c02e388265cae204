/// The line a plugin prints on its original stdout once it listens, go-plugin's format:
/// `CORE|APP|NETWORK|ADDRESS|PROTOCOL|SERVER-CERT`, e.g. `1|4|unix|/tmp/plugin-1/socket|tether|`.
///
/// Tether adds a seventh field, `versions=1,2,4`, listing every application protocol version the
/// plugin supports (go-plugin hosts ignore fields after the sixth), so that a host can say which
/// versions each side has when they share none. See docs/wire-protocol.md §10.
public struct HandshakeLine: Sendable, Equatable, CustomStringConvertible {
    /// The only core protocol version there is (go-plugin's too).
    public static let coreProtocolVersion = 1
    /// The protocol field of a Tether plugin.
    public static let tetherProtocol = "tether"

    public enum Network: String, Sendable {
        case unix, tcp
    }

    public var coreVersion: Int
    public var appVersion: Int
    public var network: Network
    /// unix: the socket's path; tcp: `127.0.0.1:PORT`.
    public var address: String
    public var protocolName: String
    public var serverCertificate: String
    /// Every application protocol version the plugin supports, when it said (Tether's extension).
    public var supportedVersions: [Int]?

    public init(appVersion: Int, network: Network, address: String, supportedVersions: [Int]? = nil) {
        self.coreVersion = Self.coreProtocolVersion
        self.appVersion = appVersion
        self.network = network
        self.address = address
        self.protocolName = Self.tetherProtocol
        self.serverCertificate = ""
        self.supportedVersions = supportedVersions
    }

    /// The line, without its newline.
    public var description: String {
        var fields = ["\(coreVersion)", "\(appVersion)", network.rawValue, address, protocolName, serverCertificate]
        if let supportedVersions { fields.append("versions=" + ProtocolVersions.format(supportedVersions)) }
        return fields.joined(separator: "|")
    }

    /// True when `line` starts like a handshake (a decimal field, then `|`): a host treats other
    /// lines that a plugin prints before its handshake as ordinary output.
    public static func looksLikeHandshake(_ line: Substring) -> Bool {
        guard let bar = line.firstIndex(of: "|") else { return false }
        let first = line[..<bar]
        return !first.isEmpty && first.allSatisfy(\.isASCIIDigit)
    }

    /// Parses and checks a handshake line (with or without its trailing newline).
    ///
    /// - Throws: ``PluginError`` — `malformedHandshake` (fewer than five fields, a version that is
    ///   not a number, an empty address), `coreVersionMismatch`, `unsupportedNetwork`,
    ///   `unsupportedProtocol`, `tlsUnsupported` (a server certificate).
    public static func parse(_ line: Substring) throws(PluginError) -> HandshakeLine {
        var text = line
        while text.last == "\n" || text.last == "\r" { text.removeLast() }
        let fields = text.split(separator: "|", omittingEmptySubsequences: false)
        guard fields.count >= 5 else {
            throw PluginError(.malformedHandshake, "\"\(text)\" has \(fields.count) fields, a handshake has 5 or 6")
        }
        guard let core = Int(fields[0]), fields[0].allSatisfy(\.isASCIIDigit) else {
            throw PluginError(
                .malformedHandshake, "core protocol version \"\(fields[0])\" in \"\(text)\" is not a number")
        }
        guard core == coreProtocolVersion else {
            throw PluginError(
                .coreVersionMismatch, "the plugin speaks core protocol \(core), this host \(coreProtocolVersion)")
        }
        guard let app = Int(fields[1]), fields[1].allSatisfy(\.isASCIIDigit) else {
            throw PluginError(
                .malformedHandshake, "app protocol version \"\(fields[1])\" in \"\(text)\" is not a number")
        }
        guard let network = Network(rawValue: String(fields[2])) else {
            throw PluginError(.unsupportedNetwork, "network \"\(fields[2])\" (Tether speaks unix and tcp)")
        }
        guard !fields[3].isEmpty else {
            throw PluginError(.malformedHandshake, "\"\(text)\" has no address")
        }
        guard fields[4] == tetherProtocol else {
            throw PluginError(.unsupportedProtocol, "the plugin speaks \"\(fields[4])\", not \"\(tetherProtocol)\"")
        }
        let certificate = fields.count > 5 ? String(fields[5]) : ""
        guard certificate.isEmpty else {
            throw PluginError(.tlsUnsupported, "the plugin sent a server certificate; Tether does not use TLS")
        }
        var handshake = HandshakeLine(appVersion: app, network: network, address: String(fields[3]))
        // Tether's extension; anything else after the sixth field is ignored, as go-plugin does.
        for field in fields.dropFirst(6) where field.hasPrefix("versions=") {
            handshake.supportedVersions = try? ProtocolVersions.parse(String(field.dropFirst("versions=".count)))
        }
        return handshake
    }

    /// The application version if the host supports it.
    ///
    /// - Throws: ``PluginError/Code-swift.struct/noCommonVersion``, naming both sides' versions.
    public func agreedVersion(hostVersions: [Int]) throws(PluginError) -> Int {
        guard hostVersions.contains(appVersion) else {
            let pluginSide = supportedVersions.map(ProtocolVersions.format) ?? "\(appVersion)"
            throw PluginError(
                .noCommonVersion,
                "host supports \(ProtocolVersions.format(hostVersions)), plugin supports \(pluginSide)")
        }
        return appVersion
    }
}
