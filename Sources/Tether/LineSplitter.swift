import TetherReactor

/// Cuts a byte stream into text lines, whatever the chunk boundaries; a line longer than
/// `maxLineBytes` comes out in pieces of that size instead of growing without bound.
struct LineSplitter: Sendable {
    private var pending: [UInt8] = []
    let maxLineBytes: Int

    init(maxLineBytes: Int = 64 * 1024) {
        precondition(maxLineBytes > 0)
        self.maxLineBytes = maxLineBytes
    }

    /// Appends `bytes` and returns the complete lines (without their `\n`).
    mutating func append(_ bytes: [UInt8]) -> [String] {
        var lines: [String] = []
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                lines.append(String(decoding: pending, as: UTF8.self))
                pending.removeAll(keepingCapacity: true)
            } else {
                pending.append(byte)
                if pending.count == maxLineBytes {
                    // Cut before a UTF-8 sequence the limit would split, so no character breaks.
                    let cut = Self.characterBoundary(in: pending)
                    lines.append(String(decoding: pending[..<cut], as: UTF8.self))
                    pending.removeSubrange(..<cut)
                }
            }
        }
        return lines
    }

    /// Where `bytes` may be cut without splitting a UTF-8 sequence: before a last sequence that is
    /// incomplete, unless that would leave nothing; else at the end.
    static func characterBoundary(in bytes: [UInt8]) -> Int {
        var lead = bytes.count - 1
        while lead > 0, bytes.count - lead < 4, bytes[lead] & 0xc0 == 0x80 { lead -= 1 }
        let byte = bytes[lead]
        let length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1
        return lead > 0 && lead + length > bytes.count ? lead : bytes.count
    }

    /// What is left at end of stream (a last line without `\n`), if anything.
    mutating func finish() -> String? {
        guard !pending.isEmpty else { return nil }
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }
}

extension LineSplitter {
    /// Reads with `read` until it ends or fails, handing `sink` every line, then the unterminated
    /// rest; `observe` sees the raw bytes first (a stderr tail keeps them).
    mutating func forward(
        from read: () async throws -> BufferSlice?, to sink: (String) -> Void, observe: ([UInt8]) -> Void = { _ in }
    ) async {
        while let slice = try? await read() {
            let bytes = slice.bytes
            observe(bytes)
            for line in append(bytes) { sink(line) }
        }
        if let last = finish() { sink(last) }
    }
}
