import Foundation

/// Writes hclog-style JSON lines to stderr, the log format go-plugin hosts read.
///
/// A Tether host turns each line into a swift-log record at its `@level`, with the other keys as
/// metadata (`PluginClientConfiguration.logger`). Until `PluginServer.serve` starts, stderr goes
/// to the host over a pipe; after it, over the connection: the host sees both the same way.
enum HCLog {
    static func info(_ message: String, _ fields: [String: String] = [:]) {
        write(level: "info", message, fields)
    }

    static func write(level: String, _ message: String, _ fields: [String: String]) {
        var line = fields
        line["@level"] = level
        line["@message"] = message
        line["@module"] = "kv-plugin"
        line["@timestamp"] = Date.now.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let json = try? encoder.encode(line) else { return }
        // One write per line, so that concurrent calls' lines do not interleave.
        FileHandle.standardError.write(json + Data("\n".utf8))
    }
}
