import TetherYamux

/// The frame decoder on one byte stream cut into chunks at arbitrary points.
///
/// Input: a byte choosing the Data payload limit, a byte `k`, `k` big-endian 16-bit cut offsets,
/// then the stream. Invariants: the frames (headers and payload bytes) and the error are those a
/// plain reference parser finds in the whole stream, whatever the cuts; payload parts are
/// non-empty slices adding up to the header's length; a failed decoder keeps failing the same way.
enum FrameDecoderFuzz {
    static let payloadLimits: [UInt32] = [0, 1, 16, 300, 4096, 262_144, UInt32.max]

    static func run(_ bytes: [UInt8]) {
        var input = FuzzInput(bytes)
        let limit = input.pick(payloadLimits)
        let cutCount = input.below(16)
        let cuts = (0..<cutCount).map { _ in Int(input.uint16()) }
        let stream = input.rest()

        let expected = reference(stream, limit: limit)
        var decoder = FrameDecoder<ArrayChunk>(maxDataPayloadBytes: limit)
        var frames: [Frame] = []
        var failure: MuxError?
        feeding: for piece in split(stream, at: cuts) {
            check(decoder.needsInput, "the decoder wants no input after a drained chunk")
            decoder.feed(ArrayChunk(piece))
            while true {
                do {
                    guard let frame = try decoder.nextFrame() else { break }
                    var payload: [UInt8] = []
                    for part in frame.payload {
                        check(part.count > 0, "an empty payload part")
                        payload += part.bytes
                    }
                    check(
                        payload.count == frame.header.payloadByteCount,
                        "\(payload.count) payload bytes for \(frame.header)")
                    frames.append(Frame(header: frame.header, payload: payload))
                } catch {
                    failure = error
                    break feeding
                }
            }
        }
        check(frames == expected.frames, "frames \(frames) where the reference finds \(expected.frames)")
        check(
            failure == expected.failure,
            "error \(String(describing: failure)), expected \(String(describing: expected.failure))")
        if let failure {
            do {
                _ = try decoder.nextFrame()
                violation("a failed decoder decoded again")
            } catch {
                check(error == failure, "a failed decoder threw \(error), first \(failure)")
            }
        } else {
            let pending = stream.count - expected.consumedBytes
            check(decoder.isAtFrameBoundary == (pending == 0), "at a frame boundary with \(pending) bytes pending")
        }
    }

    struct Frame: Equatable, CustomStringConvertible {
        var header: FrameHeader
        var payload: [UInt8]
        var description: String { "\(header) + \(payload.count) bytes" }
    }

    /// yamux framing written out plainly: 12-byte headers, Data followed by its payload.
    static func reference(_ stream: [UInt8], limit: UInt32) -> (frames: [Frame], failure: MuxError?, consumedBytes: Int)
    {
        var frames: [Frame] = []
        var offset = 0
        func field(_ at: Int, _ width: Int) -> UInt32 {
            (0..<width).reduce(0) { $0 << 8 | UInt32(stream[at + $1]) }
        }
        while stream.count - offset >= 12 {
            let version = stream[offset]
            guard version == 0 else { return (frames, MuxError(.unsupportedVersion, value: UInt64(version)), offset) }
            guard let type = FrameType(rawValue: stream[offset + 1]) else {
                return (frames, MuxError(.unknownFrameType, value: UInt64(stream[offset + 1])), offset)
            }
            let header = FrameHeader(
                type: type, flags: FrameFlags(rawValue: UInt16(field(offset + 2, 2))), streamID: field(offset + 4, 4),
                length: field(offset + 8, 4))
            let payloadBytes = header.payloadByteCount
            if payloadBytes > Int(limit) {
                return (
                    frames, MuxError(.frameTooLarge, streamID: header.streamID, value: UInt64(header.length)), offset
                )
            }
            guard stream.count - offset - 12 >= payloadBytes else { break }
            frames.append(Frame(header: header, payload: Array(stream[(offset + 12)..<(offset + 12 + payloadBytes)])))
            offset += 12 + payloadBytes
        }
        return (frames, nil, offset)
    }
}
