/// Application protocol versions: the host lists those it supports in `PLUGIN_PROTOCOL_VERSIONS`,
/// the plugin picks the highest one it supports too.
public enum ProtocolVersions {
    /// Parses a comma-separated list of decimal versions (`"3,4"`; spaces around entries are
    /// allowed). Duplicates are dropped; the result is sorted ascending.
    ///
    /// - Throws: ``PluginError/Code-swift.struct/invalidEnvironment`` for an empty list or an
    ///   entry that is not a non-negative decimal integer.
    public static func parse(_ text: String) throws(PluginError) -> [Int] {
        var versions: Set<Int> = []
        for entry in text.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = entry.trimmingSpaces
            guard !trimmed.isEmpty, trimmed.allSatisfy(\.isASCIIDigit), let version = Int(trimmed) else {
                throw PluginError(
                    .invalidEnvironment, "protocol version list \"\(text)\": \"\(entry)\" is not a version")
            }
            versions.insert(version)
        }
        return versions.sorted()
    }

    /// The list as the environment variable carries it (`"3,4"`).
    public static func format(_ versions: [Int]) -> String {
        versions.sorted().map(String.init).joined(separator: ",")
    }

    /// The highest version both sides support, or nil.
    public static func highestCommon(_ host: [Int], _ plugin: [Int]) -> Int? {
        Set(host).intersection(plugin).max()
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var text = self
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return text
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
