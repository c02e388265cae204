/// The type of a yamux frame (hashicorp/yamux `spec.md`, "Type field").
public enum FrameType: UInt8, Hashable, Sendable, CaseIterable {
    /// Stream data; `length` is the number of payload bytes that follow the header.
    case data = 0
    /// Flow-control credit; `length` is the delta added to the peer's send window.
    case windowUpdate = 1
    /// Liveness and round-trip probe on stream 0; `length` is an opaque value echoed back.
    case ping = 2
    /// Session termination on stream 0; `length` is a ``GoAwayCode``.
    case goAway = 3
}

/// The flags of a yamux frame (hashicorp/yamux `spec.md`, "Flag field").
///
/// Unknown bits are kept as received: hashicorp/yamux ignores them, so rejecting them would break
/// interoperability with a future peer.
public struct FrameFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// Opens a stream; on a Ping it marks the request.
    public static let syn = FrameFlags(rawValue: 0x1)
    /// Accepts a stream; on a Ping it marks the reply.
    public static let ack = FrameFlags(rawValue: 0x2)
    /// Half-closes the sender's side of a stream.
    public static let fin = FrameFlags(rawValue: 0x4)
    /// Resets a stream immediately.
    public static let rst = FrameFlags(rawValue: 0x8)
}

/// The reason carried by a GoAway frame (hashicorp/yamux `spec.md`, "GoAway").
public enum GoAwayCode: UInt32, Hashable, Sendable {
    /// Orderly shutdown: no new streams, existing streams continue.
    case normal = 0
    /// The peer broke the protocol.
    case protocolError = 1
    /// The sender failed internally.
    case internalError = 2
}

/// The fixed 12-byte header that starts every yamux frame:
/// `version u8 (0) | type u8 | flags u16 | streamID u32 | length u32`, all big-endian.
public struct FrameHeader: Hashable, Sendable, CustomStringConvertible {
    /// The size of an encoded header.
    public static let byteCount = 12
    /// The only protocol version yamux defines.
    public static let protocolVersion: UInt8 = 0

    /// The frame type.
    public var type: FrameType
    /// The flags.
    public var flags: FrameFlags
    /// The stream; 0 for Ping and GoAway.
    public var streamID: UInt32
    /// Payload bytes for Data, credit delta for WindowUpdate, opaque value for Ping, code for GoAway.
    public var length: UInt32

    /// Creates a header.
    public init(type: FrameType, flags: FrameFlags = [], streamID: UInt32, length: UInt32) {
        self.type = type
        self.flags = flags
        self.streamID = streamID
        self.length = length
    }

    /// The number of payload bytes that follow this header on the wire (only Data frames carry any).
    public var payloadByteCount: Int {
        type == .data ? Int(length) : 0
    }

    /// A Data frame header.
    public static func data(streamID: UInt32, flags: FrameFlags = [], payloadBytes: UInt32) -> FrameHeader {
        FrameHeader(type: .data, flags: flags, streamID: streamID, length: payloadBytes)
    }

    /// A WindowUpdate frame header.
    public static func windowUpdate(streamID: UInt32, flags: FrameFlags = [], deltaBytes: UInt32) -> FrameHeader {
        FrameHeader(type: .windowUpdate, flags: flags, streamID: streamID, length: deltaBytes)
    }

    /// A Ping request (`reply == false`, SYN) or reply (ACK) header.
    public static func ping(opaque: UInt32, reply: Bool) -> FrameHeader {
        FrameHeader(type: .ping, flags: reply ? .ack : .syn, streamID: 0, length: opaque)
    }

    /// A GoAway frame header.
    public static func goAway(_ code: GoAwayCode) -> FrameHeader {
        FrameHeader(type: .goAway, streamID: 0, length: code.rawValue)
    }

    public var description: String {
        "FrameHeader(\(type), flags 0x\(String(flags.rawValue, radix: 16)), stream \(streamID), length \(length))"
    }
}

// MARK: - Encoding

extension FrameHeader {
    /// Appends the 12 encoded bytes to `buffer`.
    public func encode(into buffer: inout [UInt8]) {
        buffer.append(Self.protocolVersion)
        buffer.append(type.rawValue)
        appendBigEndian(flags.rawValue, to: &buffer)
        appendBigEndian(streamID, to: &buffer)
        appendBigEndian(length, to: &buffer)
    }

    /// The 12 encoded bytes.
    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.byteCount)
        encode(into: &bytes)
        return bytes
    }
}

private func appendBigEndian<Value: FixedWidthInteger>(_ value: Value, to buffer: inout [UInt8]) {
    var shift = Value.bitWidth - 8
    while shift >= 0 {
        buffer.append(UInt8(truncatingIfNeeded: value >> shift))
        shift -= 8
    }
}

// MARK: - Decoding

extension FrameHeader {
    /// Decodes the first 12 bytes of `bytes`.
    ///
    /// - Throws: ``MuxError/Code-swift.struct/truncatedHeader`` if fewer than 12 bytes are given,
    ///   ``MuxError/Code-swift.struct/unsupportedVersion`` or ``MuxError/Code-swift.struct/unknownFrameType``.
    public init(decoding bytes: Span<UInt8>) throws(MuxError) {
        guard bytes.count >= Self.byteCount else {
            throw MuxError(.truncatedHeader, value: UInt64(bytes.count))
        }
        var accumulator = HeaderAccumulator()
        for index in 0..<Self.byteCount {
            accumulator.append(bytes[index])
        }
        self = try accumulator.decode()
    }

    /// Decodes the first 12 bytes of `bytes`.
    public init(decoding bytes: [UInt8]) throws(MuxError) {
        try self.init(decoding: bytes.span)
    }
}

/// Collects the 12 header bytes one at a time, so that a header split across receive buffers at
/// any byte boundary is assembled without a heap allocation: the first 8 bytes go into `high`,
/// the last 4 into `low`.
@usableFromInline struct HeaderAccumulator: Hashable, Sendable {
    @usableFromInline var high: UInt64 = 0
    @usableFromInline var low: UInt32 = 0
    @usableFromInline var byteCount = 0

    @inlinable init() {}

    @inlinable var isComplete: Bool { byteCount == FrameHeader.byteCount }

    @inlinable mutating func append(_ byte: UInt8) {
        assert(!isComplete, "header already complete")
        if byteCount < 8 {
            high = high << 8 | UInt64(byte)
        } else {
            low = low << 8 | UInt32(byte)
        }
        byteCount += 1
    }

    @usableFromInline func decode() throws(MuxError) -> FrameHeader {
        assert(isComplete, "header incomplete")
        let version = UInt8(truncatingIfNeeded: high >> 56)
        guard version == FrameHeader.protocolVersion else {
            throw MuxError(.unsupportedVersion, value: UInt64(version))
        }
        let typeByte = UInt8(truncatingIfNeeded: high >> 48)
        guard let type = FrameType(rawValue: typeByte) else {
            throw MuxError(.unknownFrameType, value: UInt64(typeByte))
        }
        return FrameHeader(
            type: type,
            flags: FrameFlags(rawValue: UInt16(truncatingIfNeeded: high >> 32)),
            streamID: UInt32(truncatingIfNeeded: high),
            length: low
        )
    }
}
