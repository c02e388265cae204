import Logging

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One line of a plugin's stderr as a log record.
///
/// A line that is a JSON object with `@level` and `@message` (hclog's JSON format, go-plugin's
/// default) becomes a record at that level (hclog's `trace`, `debug`, `info`, `warn`, `error`, and
/// swift-log's `notice`, `warning`, `critical`, any case), its other keys metadata (`@timestamp` and `@module`
/// as `timestamp` and `module`). Any other line keeps its text: a `[TRACE]`…`[ERROR]` prefix sets
/// the level, a Go `panic:` or Swift `Fatal error:` is an error, everything else is debug —
/// go-plugin's mapping, so plugins written for it log the same way here.
public struct PluginLogRecord: Equatable, Sendable {
    public var level: Logger.Level
    public var message: String
    public var metadata: Logger.Metadata

    public init(level: Logger.Level, message: String, metadata: Logger.Metadata = [:]) {
        self.level = level
        self.message = message
        self.metadata = metadata
    }

    /// The record a stderr line stands for.
    public init(parsing line: String) {
        if let record = Self.hclogRecord(line) {
            self = record
        } else {
            self.init(level: Self.plainLevel(line), message: line)
        }
    }

    private static func hclogRecord(_ line: String) -> PluginLogRecord? {
        guard line.first == "{",
            case .object(var fields)? = try? JSONDecoder().decode(JSONValue.self, from: Data(line.utf8)),
            case .string(let levelName)? = fields.removeValue(forKey: "@level"),
            let level = hclogLevel(levelName),
            case .string(let message)? = fields.removeValue(forKey: "@message")
        else { return nil }
        var metadata: Logger.Metadata = [:]
        for (key, value) in fields {
            let name = key.hasPrefix("@") ? String(key.dropFirst()) : key
            metadata[name] = value.metadataValue
        }
        return PluginLogRecord(level: level, message: message, metadata: metadata)
    }

    private static func hclogLevel(_ name: String) -> Logger.Level? {
        switch name.lowercased() {
        case "trace": .trace
        case "debug": .debug
        case "info": .info
        case "notice": .notice
        case "warn", "warning": .warning
        case "error": .error
        case "critical": .critical
        default: nil
        }
    }

    private static let prefixes: [(String, Logger.Level)] = [
        ("[TRACE]", .trace), ("[DEBUG]", .debug), ("[INFO]", .info), ("[WARN]", .warning), ("[ERROR]", .error),
    ]

    private static func plainLevel(_ line: String) -> Logger.Level {
        for (prefix, level) in prefixes where line.hasPrefix(prefix) { return level }
        if line.hasPrefix("panic:") || line.hasPrefix("fatal error:") || line.contains("Fatal error:") { return .error }
        return .debug
    }
}

/// Any JSON value, to turn an hclog line's extra keys into log metadata without losing structure.
private enum JSONValue: Decodable {
    case null, bool(Bool), integer(Int64), number(Double), string(String)
    case array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    var metadataValue: Logger.MetadataValue {
        switch self {
        case .null: .string("null")
        case .bool(let value): .stringConvertible(value)
        case .integer(let value): .stringConvertible(value)
        case .number(let value): .stringConvertible(value)
        case .string(let value): .string(value)
        case .array(let values): .array(values.map(\.metadataValue))
        case .object(let fields): .dictionary(fields.mapValues(\.metadataValue))
        }
    }
}
