import Tether

/// The handshake line parser on arbitrary text.
///
/// Invariants: it returns or throws a ``PluginError`` (never traps); a parsed line prints as a
/// line that parses to the same value; `looksLikeHandshake` holds for every line that parses.
enum HandshakeFuzz {
    static func run(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        let parsed: HandshakeLine
        do {
            parsed = try HandshakeLine.parse(Substring(text))
        } catch {
            check(!error.message.isEmpty, "a handshake error without a message")
            return
        }
        check(
            HandshakeLine.looksLikeHandshake(Substring(text)), "\"\(text)\" parses but does not look like a handshake")
        check(parsed.coreVersion == HandshakeLine.coreProtocolVersion, "core version \(parsed.coreVersion) accepted")
        check(parsed.appVersion >= 0, "a negative app version")
        check(!parsed.address.isEmpty, "an empty address")
        check(parsed.supportedVersions.map { !$0.isEmpty } ?? true, "an empty version list")
        let printed = parsed.description
        do {
            let reparsed = try HandshakeLine.parse(Substring(printed))
            check(reparsed == parsed, "\"\(printed)\" parses to \(reparsed), not \(parsed)")
        } catch {
            violation("\"\(printed)\", printed from a parsed line, does not parse: \(error)")
        }
        _ = try? parsed.agreedVersion(hostVersions: [1, 2, parsed.appVersion])
    }
}
