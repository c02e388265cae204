/// A complete frame: its header and, for Data frames, the payload as slices of the received chunks.
public struct DecodedFrame<Chunk: FrameByteChunk>: Sendable {
    /// The frame header.
    public var header: FrameHeader
    /// The payload in arrival order; empty for every frame type but Data. The byte counts of the
    /// parts add up to `header.length`. No part is empty.
    public var payload: [Chunk]

    /// Creates a frame.
    @inlinable public init(header: FrameHeader, payload: [Chunk] = []) {
        self.header = header
        self.payload = payload
    }
}

/// An incremental yamux frame parser that never copies payload bytes.
///
/// Feed each received chunk with ``feed(_:)``, then call ``nextFrame()`` until it returns `nil`
/// before feeding the next chunk. Headers and payloads may be split across chunks at any byte
/// boundary, and one chunk may hold many frames. Because the decoder holds at most one chunk it
/// has not yet looked at, its memory is bounded by one frame's payload slices.
///
/// After an error the decoder is failed: every later ``nextFrame()`` throws the same error, since
/// the byte stream can no longer be framed.
public struct FrameDecoder<Chunk: FrameByteChunk>: Sendable {
    /// The largest Data payload accepted, in bytes. A session sets this to the largest receive
    /// window it ever grants, so an absurd length is refused before any payload is buffered.
    public let maxDataPayloadBytes: UInt32

    @usableFromInline var current: Chunk?
    @usableFromInline var offset = 0
    @usableFromInline var accumulator = HeaderAccumulator()
    /// The header of the Data frame whose payload is being collected.
    @usableFromInline var payloadHeader: FrameHeader?
    @usableFromInline var remainingPayloadBytes = 0
    @usableFromInline var payloadParts: [Chunk] = []
    @usableFromInline var failure: MuxError?

    /// Creates a decoder that refuses Data frames longer than `maxDataPayloadBytes`.
    @inlinable public init(maxDataPayloadBytes: UInt32) {
        self.maxDataPayloadBytes = maxDataPayloadBytes
    }

    /// Whether the last fed chunk has been fully parsed, so the next one may be fed.
    @inlinable public var needsInput: Bool { current == nil }

    /// Whether the decoder is between frames (no partial header or payload pending).
    @inlinable public var isAtFrameBoundary: Bool { accumulator.byteCount == 0 && payloadHeader == nil }

    /// Hands the decoder the next received chunk.
    ///
    /// - Precondition: ``needsInput`` is `true` (the previous chunk was drained with ``nextFrame()``).
    @inlinable public mutating func feed(_ chunk: Chunk) {
        precondition(current == nil, "FrameDecoder.feed called before the previous chunk was drained")
        guard chunk.count > 0 else { return }
        current = chunk
        offset = 0
    }

    /// Parses the next complete frame from the fed bytes, or returns `nil` when more input is needed.
    ///
    /// - Throws: the header errors of ``FrameHeader/init(decoding:)-(Span<UInt8>)``, or
    ///   ``MuxError/Code-swift.struct/frameTooLarge`` for a Data frame longer than ``maxDataPayloadBytes``.
    @inlinable public mutating func nextFrame() throws(MuxError) -> DecodedFrame<Chunk>? {
        if let failure { throw failure }
        while let chunk = current {
            if let header = payloadHeader {
                let take = min(remainingPayloadBytes, chunk.count - offset)
                payloadParts.append(chunk.slice(offset..<(offset + take)))
                advance(by: take, in: chunk)
                remainingPayloadBytes -= take
                if remainingPayloadBytes == 0 {
                    return finishPayload(header)
                }
                continue
            }
            while !accumulator.isComplete && offset < chunk.count {
                accumulator.append(chunk.byte(at: offset))
                offset += 1
            }
            advance(by: 0, in: chunk)
            guard accumulator.isComplete else { continue }
            let header: FrameHeader
            do {
                header = try accumulator.decode()
            } catch {
                return try fail(error)
            }
            accumulator = HeaderAccumulator()
            guard header.type == .data, header.length > 0 else {
                // Non-Data frames carry a value, not a payload; an empty Data frame only has flags.
                return DecodedFrame(header: header)
            }
            guard header.length <= maxDataPayloadBytes else {
                return try fail(MuxError(.frameTooLarge, streamID: header.streamID, value: UInt64(header.length)))
            }
            payloadHeader = header
            remainingPayloadBytes = Int(header.length)
        }
        return nil
    }

    @inlinable mutating func advance(by byteCount: Int, in chunk: Chunk) {
        offset += byteCount
        if offset == chunk.count {
            current = nil
            offset = 0
        }
    }

    @inlinable mutating func finishPayload(_ header: FrameHeader) -> DecodedFrame<Chunk> {
        let parts = payloadParts
        payloadParts = []
        payloadHeader = nil
        return DecodedFrame(header: header, payload: parts)
    }

    @inlinable mutating func fail(_ error: MuxError) throws(MuxError) -> DecodedFrame<Chunk>? {
        failure = error
        current = nil
        payloadParts = []
        throw error
    }
}
