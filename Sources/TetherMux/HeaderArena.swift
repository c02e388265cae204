import TetherReactor

/// Encodes frame headers into arena memory, so a frame header costs no allocation of its own.
struct HeaderArena {
    /// 5,461 headers per arena buffer.
    static let arenaBytes = 64 * 1024
    private var arena = ByteArena(capacity: arenaBytes)

    /// The 12 encoded bytes of `header` as a slice ready to send.
    mutating func slice(for header: FrameHeader) -> BufferSlice {
        if let slice = arena.append(count: FrameHeader.byteCount, initializingWith: { header.write(to: &$0) }) {
            return slice
        }
        arena = ByteArena(capacity: Self.arenaBytes)
        guard let slice = arena.append(count: FrameHeader.byteCount, initializingWith: { header.write(to: &$0) }) else {
            preconditionFailure("a fresh arena has room for a header")
        }
        return slice
    }
}

extension FrameHeader {
    /// Writes the 12 encoded bytes to the start of `span`.
    func write(to span: inout MutableSpan<UInt8>) {
        span[0] = Self.protocolVersion
        span[1] = type.rawValue
        span[2] = UInt8(truncatingIfNeeded: flags.rawValue >> 8)
        span[3] = UInt8(truncatingIfNeeded: flags.rawValue)
        for index in 0..<4 {
            span[4 + index] = UInt8(truncatingIfNeeded: streamID >> (24 - 8 * UInt32(index)))
            span[8 + index] = UInt8(truncatingIfNeeded: length >> (24 - 8 * UInt32(index)))
        }
    }
}
