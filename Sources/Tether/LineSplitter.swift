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
                    lines.append(String(decoding: pending, as: UTF8.self))
                    pending.removeAll(keepingCapacity: true)
                }
            }
        }
        return lines
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
