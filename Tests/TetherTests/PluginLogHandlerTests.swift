import Foundation
import Logging
import Synchronization
import Testing

@testable import Tether

/// The lines a handler wrote.
private final class Lines: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    func append(_ line: String) { lines.withLock { $0.append(line) } }
}

/// The plugin's log handler against the host's parser: what one writes, the other reads back.
@Suite struct PluginLogHandlerTests {
    /// A logger whose handler's lines land in `lines`.
    private static func logger(
        label: String = "kv-plugin", metadata: Logger.Metadata = [:], provider: Logger.MetadataProvider? = nil,
        into lines: Lines
    ) -> Logger {
        var logger = Logger(label: label) { label in
            PluginLogHandler(label: label, metadataProvider: provider) { line in lines.append(line) }
        }
        logger.logLevel = .trace
        for (key, value) in metadata { logger[metadataKey: key] = value }
        return logger
    }

    /// The record the host makes of the one line logged, without the two keys the handler adds.
    private static func parsedWithoutTimestampAndModule(_ lines: [String]) throws -> PluginLogRecord {
        try #require(lines.count == 1)
        let line = try #require(lines.first)
        #expect(line.hasSuffix("}\n"))
        #expect(line.filter { $0 == "\n" }.count == 1, "one line: \(line)")
        var record = PluginLogRecord(parsing: String(line.dropLast()))
        record.metadata["timestamp"] = nil
        record.metadata["module"] = nil
        return record
    }

    @Test(arguments: [Logger.Level.trace, .debug, .info, .notice, .warning, .error, .critical])
    func everyLevelComesBackAsItself(level: Logger.Level) throws {
        let lines = Lines()
        Self.logger(into: lines).log(level: level, "hello")
        let line = try #require(lines.all.first)
        let record = PluginLogRecord(parsing: String(line.dropLast()))
        #expect(record.level == level)
        #expect(record.message == "hello")
        #expect(record.metadata["module"] == "kv-plugin")
        guard case .string(let timestamp)? = record.metadata["timestamp"] else {
            Issue.record("no timestamp: \(line)")
            return
        }
        #expect(timestamp.count == "2026-12-04T19:14:15.123456Z".count && timestamp.hasSuffix("Z"))
        #expect(record.metadata.count == 2)
    }

    @Test func metadataComesBackWithItsStructure() throws {
        let lines = Lines()
        let sent: Logger.Metadata = [
            "key": "a1", "empty": "", "count": .stringConvertible(42), "negative": .stringConvertible(-7),
            "small": .stringConvertible(UInt8(200)), "ratio": .stringConvertible(1.5),
            "tiny": .stringConvertible(Float(0.25)), "fresh": .stringConvertible(true),
            "off": .stringConvertible(false),
            "list": [.stringConvertible(1), "a", ["nested"]], "where": ["shard": [.stringConvertible(1), "2"]],
            "level": "not the level", "message": "not the message", "@at": "kept with its @", "@@two": "both",
        ]
        Self.logger(into: lines).info("put", metadata: sent)
        let record = try Self.parsedWithoutTimestampAndModule(lines.all)
        #expect(record == PluginLogRecord(level: .info, message: "put", metadata: sent))
    }

    /// Values the host cannot give back with their type come back with their text.
    @Test func otherValuesComeBackAsTheirDescription() throws {
        struct Version: CustomStringConvertible, Sendable { var description: String { "1.2.3" } }
        let lines = Lines()
        let sent: Logger.Metadata = [
            "whole": .stringConvertible(2.0), "huge": .stringConvertible(UInt64.max),
            "infinite": .stringConvertible(Double.infinity), "nan": .stringConvertible(Double.nan),
            "version": .stringConvertible(Version()),
        ]
        Self.logger(into: lines).info("m", metadata: sent)
        let record = try Self.parsedWithoutTimestampAndModule(lines.all)
        #expect(record.metadata == sent.mapValues { .string("\($0)") })
    }

    /// A `module` or `timestamp` key replaces the handler's own, the way the host would name it.
    @Test func moduleAndTimestampMetadataReplaceTheHandlersOwn() throws {
        let lines = Lines()
        Self.logger(into: lines).info("m", metadata: ["module": "store", "timestamp": "yesterday"])
        let line = try #require(lines.all.first)
        #expect(
            line == #"{"@level":"info","@message":"m","@module":"store","@timestamp":"yesterday"}"# + "\n")
        #expect(
            PluginLogRecord(parsing: String(line.dropLast()))
                == PluginLogRecord(level: .info, message: "m", metadata: ["module": "store", "timestamp": "yesterday"]))
    }

    /// The handler's, the provider's and the record's metadata, later ones winning, and an error.
    @Test func metadataSourcesMergeLikeStreamLogHandler() throws {
        struct DiskFull: Error, CustomStringConvertible { var description: String { "disk full" } }
        let lines = Lines()
        let provider = Logger.MetadataProvider { ["request": "r1", "shared": "provider"] }
        let logger = Self.logger(metadata: ["store": "s1", "shared": "handler"], provider: provider, into: lines)
        logger.error("failed", error: DiskFull(), metadata: ["key": "k"])
        let record = try Self.parsedWithoutTimestampAndModule(lines.all)
        #expect(
            record
                == PluginLogRecord(
                    level: .error, message: "failed",
                    metadata: [
                        "store": "s1", "request": "r1", "shared": "provider", "key": "k", "error.message": "disk full",
                        "error.type": "\(String(reflecting: DiskFull.self))",
                    ]))
    }

    /// Quotes, backslashes and every control character escaped, other text (non-ASCII included)
    /// as it is: the line stays one line and the host reads back the same strings.
    @Test func stringsAreEscapedAndComeBackWhole() throws {
        let controls = String(String.UnicodeScalarView((0..<0x20).compactMap(Unicode.Scalar.init)))
        let texts = [
            #"say "hi" \ back\slash \n not a newline"#, controls, "multi\nline\r\nrecord\t",
            "é 中文 👍🏽 e\u{301} \u{7F} \u{2028} \u{FEFF} 𝄞", "",
        ]
        for text in texts {
            let lines = Lines()
            Self.logger(into: lines).info("\(text)", metadata: [text: .string(text), "list": [.string(text)]])
            let record = try Self.parsedWithoutTimestampAndModule(lines.all)
            #expect(
                record
                    == PluginLogRecord(
                        level: .info, message: text, metadata: [text: .string(text), "list": [.string(text)]])
            )
        }
    }

    @Test func escapesAreTheShortOnesWhereJSONHasThem() {
        var json = ""
        PluginLogHandler.appendString("\"\\\n\r\t\u{08}\u{0C}\u{00}\u{01}\u{1F} /é\u{7F}", to: &json)
        #expect(json == #""\"\\\n\r\t\b\f\u0000\u0001\u001f /é"# + "\u{7F}\"")
    }

    @Test func lineLayout() {
        let line = PluginLogHandler.line(
            level: .warning, message: "put", label: "kv-plugin", metadata: ["b": "2", "a": .stringConvertible(1)],
            date: Date(timeIntervalSince1970: 1_796_411_655.25))
        #expect(
            line
                == #"{"@level":"warn","@message":"put","@module":"kv-plugin","@timestamp":"2026-12-04T19:14:15.250000Z","#
                + #""a":1,"b":"2"}"#)
    }

    @Test(arguments: [
        (0.0, "1970-01-01T00:00:00.000000Z"), (-0.5, "1969-12-31T23:59:59.500000Z"),
        (951_782_400, "2000-02-29T00:00:00.000000Z"), (951_868_799.75, "2000-02-29T23:59:59.750000Z"),
        (4_107_542_400, "2100-03-01T00:00:00.000000Z"), (1_709_164_800.125, "2024-02-29T00:00:00.125000Z"),
        (-2_208_988_800, "1900-01-01T00:00:00.000000Z"),
    ])
    func timestampsAreUTCWithMicroseconds(seconds: Double, text: String) {
        #expect(PluginLogHandler.rfc3339(Date(timeIntervalSince1970: seconds)) == text)
    }
}

/// The handler writing to a real pipe.
@Suite(.timeLimit(.minutes(1)))
struct PluginLogHandlerPipeTests {
    /// Lines longer than the pipe holds, logged from several threads at once, arrive whole: each
    /// write blocks part-way until the reader drains the pipe, where another thread's write
    /// would slip in without the handler's lock.
    @Test func linesFromSeveralThreadsDoNotInterleave() async throws {
        try await withoutLeaks { reactor in
            let (reader, writer) = try reactor.makePipe()
            let fileDescriptor = writer.fileDescriptor
            let reading = Task(executorPreference: reactor) {
                var bytes: [UInt8] = []
                while let slice = try await reader.read() { bytes += slice.bytes }
                try await reader.close()
                return bytes
            }
            let threads = 4
            let linesPerThread = 6
            let letters = ["a", "b", "c", "d"]
            await Task.detached {
                DispatchQueue.concurrentPerform(iterations: threads) { thread in
                    let logger = Logger(label: "writer") { PluginLogHandler(label: $0, fileDescriptor: fileDescriptor) }
                    for index in 0..<linesPerThread {
                        logger.info(
                            "\(String(repeating: letters[thread], count: 100_000))",
                            metadata: ["thread": "\(thread)", "index": "\(index)"])
                    }
                }
            }.value
            try await writer.close()
            let lines = String(decoding: try await reading.value, as: UTF8.self).split(separator: "\n")
            #expect(lines.count == threads * linesPerThread)
            var seen: Set<String> = []
            for line in lines {
                let record = PluginLogRecord(parsing: String(line))
                guard case .string(let thread)? = record.metadata["thread"], let number = Int(thread),
                    letters.indices.contains(number), case .string(let index)? = record.metadata["index"]
                else {
                    Issue.record("not a whole record: \(line.prefix(80))…")
                    continue
                }
                #expect(record.message == String(repeating: letters[number], count: 100_000))
                seen.insert("\(thread)/\(index)")
            }
            #expect(seen.count == threads * linesPerThread)
        }
    }
}
