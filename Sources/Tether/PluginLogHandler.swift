import Logging
import Synchronization
import SystemPackage
import TetherReactor

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A swift-log handler for plugins: one hclog-style JSON line per record on stderr, which a
/// Tether host turns back into a record at the same level, with the same message and metadata
/// (``PluginLogRecord``).
///
/// ```swift
/// LoggingSystem.bootstrap(PluginLogHandler.init(label:))
/// let logger = Logger(label: "kv-plugin")
/// logger.info("put", metadata: ["key": "\(key)"])
/// // {"@level":"info","@message":"put","@module":"kv-plugin","@timestamp":"2026-12-04T19:14:15.123456Z","key":"a"}
/// ```
///
/// A line holds `@level` (`trace`, `debug`, `info`, `notice`, `warn`, `error`, `critical`),
/// `@message`, `@module` (the logger's label) and `@timestamp` (UTC, RFC 3339 with microseconds),
/// then the metadata, one key each, sorted by key: the handler's, the metadata provider's, the
/// record's, later ones replacing earlier ones, and for a record logged with an error
/// `error.message` and `error.type` (as swift-log's `StreamLogHandler` does). The host keeps
/// metadata as it was given:
///
/// - a string is a JSON string; an array or a dictionary is a JSON array or object of its values;
/// - a `Bool`, and an integer within `Int64`, are JSON literals the host reads back as such; a
///   finite floating-point value that is not a whole number is a JSON number; every other
///   `stringConvertible` value is written as the string of its `description`;
/// - a key that starts with `@` is written with one more `@` (the host drops one), and a
///   `timestamp` or `module` key takes the place of the handler's own `@timestamp` or `@module`
///   (the host names those two `timestamp` and `module`).
///
/// Each line is one `write(2)` to fd 2, made under a process-wide lock, so lines from several
/// threads never interleave. While ``PluginServer`` serves, fd 2 is the pipe it forwards over
/// stream 5; before and after, the host's stderr pipe: the host reads both the same way. The write
/// blocks while the pipe is full, so code on the plugin's reactor thread (RPC handlers) must not
/// log more than the pipe holds (256 KiB) in one burst.
///
/// Bootstrapping the logging system is the plugin's choice: Tether's own code never does it.
public struct PluginLogHandler: LogHandler {
    /// The lowest level logged; `Logger` drops records below it before they reach the handler.
    public var logLevel: Logger.Level = .info
    /// Metadata added to every record of this handler (the record's own replaces it key by key).
    public var metadata: Logger.Metadata = [:]
    /// Called for every record; what it returns is added to the handler's metadata.
    public var metadataProvider: Logger.MetadataProvider?
    /// The logger's label, written as `@module`.
    public let label: String
    private let write: @Sendable (String) -> Void

    /// A handler that writes to this process's stderr, with the metadata provider the logging
    /// system was bootstrapped with: `LoggingSystem.bootstrap(PluginLogHandler.init(label:))`.
    ///
    /// - Parameter label: the logger's label, written as `@module`.
    public init(label: String) {
        self.init(label: label, metadataProvider: LoggingSystem.metadataProvider)
    }

    /// A handler that writes to this process's stderr.
    ///
    /// - Parameters:
    ///   - label: the logger's label, written as `@module`.
    ///   - metadataProvider: adds metadata to every record.
    public init(label: String, metadataProvider: Logger.MetadataProvider?) {
        self.init(label: label, metadataProvider: metadataProvider, fileDescriptor: .standardError)
    }

    /// A handler that writes to `fileDescriptor` (a blocking one) instead of stderr.
    init(label: String, metadataProvider: Logger.MetadataProvider? = nil, fileDescriptor: FileDescriptor) {
        self.init(label: label, metadataProvider: metadataProvider) { line in
            Self.writeLock.withLock { _ in
                // A log line that cannot be written has nowhere else to go.
                try? BlockingIO.writeAll(fileDescriptor, line)
            }
        }
    }

    /// A handler that hands each line, with its newline, to `write`.
    init(
        label: String, metadataProvider: Logger.MetadataProvider? = nil,
        write: @escaping @Sendable (String) -> Void
    ) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.write = write
    }

    /// One entry of ``metadata``.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes `event` as one JSON line to stderr.
    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
        if let explicit = event.metadata { fields.merge(explicit) { _, new in new } }
        if let error = event.error {
            fields["error.message"] = "\(error)"
            fields["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        write(
            Self.line(level: event.level, message: "\(event.message)", label: label, metadata: fields, date: Date())
                + "\n")
    }

    /// The JSON line, without its newline, for one record.
    static func line(
        level: Logger.Level, message: String, label: String, metadata: Logger.Metadata, date: Date
    ) -> String {
        var fields = metadata
        let module = fields.removeValue(forKey: "module") ?? .string(label)
        let timestamp = fields.removeValue(forKey: "timestamp") ?? .string(rfc3339(date))
        var json = "{\"@level\":\"\(levelName(level))\",\"@message\":"
        appendString(message, to: &json)
        json += ",\"@module\":"
        append(module, to: &json)
        json += ",\"@timestamp\":"
        append(timestamp, to: &json)
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            json += ","
            appendString(key.hasPrefix("@") ? "@" + key : key, to: &json)
            json += ":"
            append(value, to: &json)
        }
        json += "}"
        return json
    }

    /// hclog's name of a level, or swift-log's for the two hclog lacks (the host knows both).
    static func levelName(_ level: Logger.Level) -> String {
        switch level {
        case .trace: "trace"
        case .debug: "debug"
        case .info: "info"
        case .notice: "notice"
        case .warning: "warn"
        case .error: "error"
        case .critical: "critical"
        }
    }

    private static func append(_ value: Logger.MetadataValue, to json: inout String) {
        switch value {
        case .string(let text):
            appendString(text, to: &json)
        case .stringConvertible(let convertible):
            if let literal = jsonLiteral(convertible) {
                json += literal
            } else {
                appendString(convertible.description, to: &json)
            }
        case .array(let values):
            json += "["
            for (index, element) in values.enumerated() {
                if index > 0 { json += "," }
                append(element, to: &json)
            }
            json += "]"
        case .dictionary(let entries):
            json += "{"
            for (index, (key, element)) in entries.sorted(by: { $0.key < $1.key }).enumerated() {
                if index > 0 { json += "," }
                appendString(key, to: &json)
                json += ":"
                append(element, to: &json)
            }
            json += "}"
        }
    }

    /// The JSON literal for a value the host reads back with the same description: a `Bool`, an
    /// integer within `Int64`, a finite floating-point value that is not a whole number (a whole
    /// one would come back as an integer, `2` for `2.0`). Nil for anything else.
    private static func jsonLiteral(_ value: any CustomStringConvertible & Sendable) -> String? {
        switch value {
        case let flag as Bool:
            return flag ? "true" : "false"
        case let integer as any BinaryInteger:
            return Int64(exactly: integer).map { "\($0)" }
        case let number as Double:
            return number.isFinite && number.rounded() != number ? "\(number)" : nil
        case let number as Float:
            return number.isFinite && number.rounded() != number ? "\(number)" : nil
        default:
            return nil
        }
    }

    /// `text` as a JSON string: quotes and backslashes escaped, control characters (U+0000 to
    /// U+001F) as `\n`, `\t`… or `\u00XX`, everything else as its UTF-8, unescaped.
    static func appendString(_ text: String, to json: inout String) {
        json += "\""
        var start = text.unicodeScalars.startIndex
        var index = start
        let scalars = text.unicodeScalars
        while index != scalars.endIndex {
            let scalar = scalars[index]
            let escape: String?
            switch scalar {
            case "\"": escape = "\\\""
            case "\\": escape = "\\\\"
            case "\n": escape = "\\n"
            case "\r": escape = "\\r"
            case "\t": escape = "\\t"
            case "\u{08}": escape = "\\b"
            case "\u{0C}": escape = "\\f"
            case "\u{00}"..."\u{1F}":
                let hex = String(scalar.value, radix: 16)
                escape = "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: escape = nil
            }
            if let escape {
                json.unicodeScalars.append(contentsOf: scalars[start..<index])
                json += escape
                start = scalars.index(after: index)
            }
            index = scalars.index(after: index)
        }
        json.unicodeScalars.append(contentsOf: scalars[start..<index])
        json += "\""
    }

    /// `date` in UTC as RFC 3339 with microseconds, e.g. `2026-12-04T19:14:15.123456Z`.
    static func rfc3339(_ date: Date) -> String {
        let microseconds = Int64((date.timeIntervalSince1970 * 1_000_000).rounded(.down))
        let (seconds, fraction) = microseconds.floorDividedAndModulo(1_000_000)
        let (days, secondOfDay) = seconds.floorDividedAndModulo(86_400)
        // Howard Hinnant's days-to-civil: the proleptic Gregorian date of a day since 1970-01-01.
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func padded(_ value: Int64, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(padded(year, 4))-\(padded(month, 2))-\(padded(day, 2))T\(padded(secondOfDay / 3_600, 2)):"
            + "\(padded(secondOfDay / 60 % 60, 2)):\(padded(secondOfDay % 60, 2)).\(padded(fraction, 6))Z"
    }

    /// Serializes the writes of every handler in the process: a line longer than the kernel
    /// writes atomically (`PIPE_BUF`, 4 KiB, for a pipe) would otherwise interleave with another
    /// thread's line whenever the pipe fills in the middle of it.
    private static let writeLock = Mutex(())
}

extension Int64 {
    /// Floor division and the matching non-negative remainder.
    fileprivate func floorDividedAndModulo(_ divisor: Int64) -> (Int64, Int64) {
        let remainder = self % divisor
        return remainder < 0 ? (self / divisor - 1, remainder + divisor) : (self / divisor, remainder)
    }
}
