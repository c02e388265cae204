import Logging
import Testing
import Tether

/// Plugin stderr lines → log records, without I/O.
@Suite struct PluginLogRecordTests {
    @Test(arguments: [
        ("trace", Logger.Level.trace), ("debug", .debug), ("info", .info), ("warn", .warning),
        ("WARNING", .warning), ("error", .error),
    ])
    func hclogLevels(name: String, level: Logger.Level) {
        let record = PluginLogRecord(parsing: #"{"@level":"\#(name)","@message":"hello","@timestamp":"t"}"#)
        #expect(record == PluginLogRecord(level: level, message: "hello", metadata: ["timestamp": "t"]))
    }

    @Test func hclogKeysBecomeMetadataWithTheirStructure() {
        let record = PluginLogRecord(
            parsing: #"{"@level":"info","@message":"m","@module":"kv","n":42,"f":1.5,"ok":false,"none":null,"#
                + #""list":[1,"a"],"obj":{"k":"v"}}"#)
        #expect(record.level == .info)
        #expect(record.message == "m")
        #expect(record.metadata["module"] == "kv")
        #expect(record.metadata["n"] == .stringConvertible(42))
        #expect(record.metadata["f"] == .stringConvertible(1.5))
        #expect(record.metadata["ok"] == .stringConvertible(false))
        #expect(record.metadata["none"] == "null")
        #expect(record.metadata["list"] == .array([.stringConvertible(1), "a"]))
        #expect(record.metadata["obj"] == .dictionary(["k": "v"]))
        #expect(record.metadata.count == 7)
    }

    @Test(arguments: [
        ("[TRACE] t", Logger.Level.trace), ("[DEBUG] d", .debug), ("[INFO] i", .info), ("[WARN] w", .warning),
        ("[ERROR] e", .error), ("panic: runtime error", .error), ("fatal error: all goroutines are asleep", .error),
        ("main.swift:3: Fatal error: boom", .error), ("just text", .debug), ("", .debug),
    ])
    func plainLinesKeepTheirTextAndTakeALevelFromTheirPrefix(line: String, level: Logger.Level) {
        #expect(PluginLogRecord(parsing: line) == PluginLogRecord(level: level, message: line))
    }

    /// Lines that look like JSON but are not hclog records are logged as text, whole.
    @Test(arguments: [
        #"{"@message":"no level"}"#, #"{"@level":"info"}"#, #"{"@level":"loud","@message":"m"}"#,
        #"{"@level":3,"@message":"m"}"#, #"{"@level":"info","@message":"cut off"#, "[1,2,3]", "{}",
    ])
    func notAnHclogRecord(line: String) {
        #expect(PluginLogRecord(parsing: line) == PluginLogRecord(level: .debug, message: line))
    }
}
