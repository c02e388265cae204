@testable import Tether

/// A plugin's stderr, cut into chunks at arbitrary points, split into lines and parsed as log
/// records.
///
/// Input: a byte choosing the line limit, a byte `k`, `k` 16-bit cut offsets, then the stream.
/// Invariants: the lines do not depend on the cuts, none is longer than the limit (a cut at the
/// limit never splits a UTF-8 character), and without a cut they are the stream's; every line becomes a record, a line that is not JSON
/// keeping its text as the message.
enum HclogFuzz {
    static let lineLimits = [1, 7, 80, 4_096, 64 * 1024]

    static func run(_ bytes: [UInt8]) {
        var input = FuzzInput(bytes)
        let maxLineBytes = input.pick(lineLimits)
        let cutCount = input.below(8)
        let cuts = (0..<cutCount).map { _ in Int(input.uint16()) }
        let stream = input.rest()

        var whole = LineSplitter(maxLineBytes: maxLineBytes)
        var expected = whole.append(stream)
        if let last = whole.finish() { expected.append(last) }

        var splitter = LineSplitter(maxLineBytes: maxLineBytes)
        var lines: [String] = []
        for piece in split(stream, at: cuts) { lines += splitter.append(piece) }
        if let last = splitter.finish() { lines.append(last) }
        check(lines == expected, "\(lines.count) lines from the pieces, \(expected.count) from the whole")

        let newlines = stream.count { $0 == UInt8(ascii: "\n") }
        check(lines.count >= newlines, "\(lines.count) lines for \(newlines) newlines")
        let valid = String(validating: stream, as: UTF8.self) != nil
        if valid, maxLineBytes >= stream.count {
            // No line is cut at the limit: the lines are the stream's, split at its newlines.
            var parts = stream.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map {
                String(decoding: $0, as: UTF8.self)
            }
            if parts.last == "" { parts.removeLast() }
            check(lines == parts, "the lines are not the stream's")
        }
        for line in lines {
            // A cut never splits a character (the limit leaves room for one, at 4 bytes).
            check(!valid || maxLineBytes < 4 || line.utf8.count <= maxLineBytes, "a \(line.utf8.count)-byte line")
            let record = PluginLogRecord(parsing: line)
            if line.first != "{" {
                check(record.message == line, "a plain line's message is not its text")
                check(record.metadata.isEmpty, "a plain line has metadata")
            }
        }
    }
}
