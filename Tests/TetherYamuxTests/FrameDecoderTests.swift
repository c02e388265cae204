import Testing

@testable import TetherYamux

/// A frame reduced to comparable values.
private struct FlatFrame: Hashable {
    var header: FrameHeader
    var payload: [UInt8]
}

private let sampleFrames: [FlatFrame] = [
    FlatFrame(header: .windowUpdate(streamID: 1, flags: .syn, deltaBytes: 0), payload: []),
    FlatFrame(header: .data(streamID: 1, payloadBytes: 5), payload: payload(5)),
    FlatFrame(header: .ping(opaque: 42, reply: false), payload: []),
    FlatFrame(header: .data(streamID: 3, flags: .syn, payloadBytes: 300), payload: payload(300, seed: 3)),
    FlatFrame(header: .data(streamID: 1, flags: .fin, payloadBytes: 0), payload: []),
    FlatFrame(header: .data(streamID: 3, payloadBytes: 1), payload: [0xEE]),
    FlatFrame(header: .goAway(.normal), payload: []),
]

private func wireBytes(_ frames: [FlatFrame]) -> [UInt8] {
    var bytes: [UInt8] = []
    for frame in frames {
        frame.header.encode(into: &bytes)
        bytes += frame.payload
    }
    return bytes
}

/// Decodes `chunks` in order, checking that every payload part is a slice of an input chunk.
private func decode(_ chunks: [ArrayChunk], maxPayload: UInt32 = 1 << 20) throws(MuxError) -> [FlatFrame] {
    var decoder = FrameDecoder<ArrayChunk>(maxDataPayloadBytes: maxPayload)
    var frames: [FlatFrame] = []
    let storages = chunks.map { ObjectIdentifier($0.storage) }
    for chunk in chunks {
        decoder.feed(chunk)
        while let frame = try decoder.nextFrame() {
            for part in frame.payload {
                #expect(part.count > 0)
                #expect(storages.contains(ObjectIdentifier(part.storage)), "payload was copied")
            }
            frames.append(FlatFrame(header: frame.header, payload: frame.payload.flatMap(\.bytes)))
        }
        #expect(decoder.needsInput)
    }
    return frames
}

@Suite("Frame decoder")
struct FrameDecoderTests {
    @Test("several frames in one chunk")
    func oneChunk() throws {
        let frames = try decode([ArrayChunk(wireBytes(sampleFrames))])
        #expect(frames == sampleFrames)
    }

    @Test("every split point yields identical frames")
    func everySplitPoint() throws {
        let bytes = wireBytes(sampleFrames)
        for split in 1..<bytes.count {
            let chunks = [ArrayChunk(Array(bytes[..<split])), ArrayChunk(Array(bytes[split...]))]
            let frames = try decode(chunks)
            #expect(frames == sampleFrames, "split at \(split)")
        }
    }

    @Test("every pair of split points yields identical frames")
    func everySplitPair() throws {
        // Three chunks: covers a header split twice and a payload spread over three chunks.
        let bytes = wireBytes(Array(sampleFrames.prefix(4)))
        for first in stride(from: 1, to: bytes.count - 1, by: 3) {
            for second in (first + 1)..<bytes.count {
                let chunks = [
                    ArrayChunk(Array(bytes[..<first])), ArrayChunk(Array(bytes[first..<second])),
                    ArrayChunk(Array(bytes[second...])),
                ]
                #expect(try decode(chunks) == Array(sampleFrames.prefix(4)), "splits at \(first), \(second)")
            }
        }
    }

    @Test("one byte at a time")
    func byteByByte() throws {
        let chunks = wireBytes(sampleFrames).map { ArrayChunk([$0]) }
        #expect(try decode(chunks) == sampleFrames)
    }

    @Test("a payload in one chunk is one zero-copy slice")
    func singleSlice() throws {
        let bytes = wireBytes([sampleFrames[3]])
        let chunk = ArrayChunk(bytes)
        var decoder = FrameDecoder<ArrayChunk>(maxDataPayloadBytes: 1024)
        decoder.feed(chunk)
        let frame = try #require(try decoder.nextFrame())
        #expect(frame.payload.count == 1)
        #expect(frame.payload.first?.range == 12..<312)
        #expect(frame.payload.first.map { $0.storage === chunk.storage } == true)
        #expect(decoder.isAtFrameBoundary)
    }

    @Test("needs more input mid-header and mid-payload")
    func partial() throws {
        var decoder = FrameDecoder<ArrayChunk>(maxDataPayloadBytes: 1024)
        let bytes = wireBytes([sampleFrames[1]])
        decoder.feed(ArrayChunk(Array(bytes[..<7])))
        #expect(try decoder.nextFrame() == nil)
        #expect(!decoder.isAtFrameBoundary)
        decoder.feed(ArrayChunk(Array(bytes[7..<14])))
        #expect(try decoder.nextFrame() == nil)
        decoder.feed(ArrayChunk(Array(bytes[14...])))
        let frame = try #require(try decoder.nextFrame())
        #expect(frame.payload.flatMap(\.bytes) == payload(5))
        #expect(frame.payload.count == 2)
    }

    @Test("rejects a Data frame longer than the limit before its payload arrives")
    func tooLarge() {
        let header = FrameHeader.data(streamID: 5, payloadBytes: 1025)
        #expect(throws: MuxError(.frameTooLarge, streamID: 5, value: 1025)) {
            _ = try decode([ArrayChunk(header.encoded())], maxPayload: 1024)
        }
    }

    @Test("the length of non-Data frames is not a payload")
    func largeValuesAreNotPayload() throws {
        let frames = [
            FlatFrame(header: .windowUpdate(streamID: 1, deltaBytes: .max), payload: []),
            FlatFrame(header: .ping(opaque: .max, reply: true), payload: []),
        ]
        #expect(try decode([ArrayChunk(wireBytes(frames))], maxPayload: 16) == frames)
    }

    @Test("a bad header mid-stream fails the decoder for good")
    func stickyError() throws {
        var bytes = wireBytes([sampleFrames[2]])
        bytes += [0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        var decoder = FrameDecoder<ArrayChunk>(maxDataPayloadBytes: 1024)
        decoder.feed(ArrayChunk(bytes))
        #expect(try decoder.nextFrame()?.header == sampleFrames[2].header)
        #expect(throws: MuxError(.unknownFrameType, value: 9)) { try decoder.nextFrame() }
        #expect(decoder.needsInput)
        decoder.feed(ArrayChunk(wireBytes([sampleFrames[0]])))
        #expect(throws: MuxError(.unknownFrameType, value: 9)) { try decoder.nextFrame() }
    }

    @Test("rejects a bad version split across chunks")
    func badVersionSplit() {
        #expect(throws: MuxError(.unsupportedVersion, value: 2)) {
            _ = try decode([ArrayChunk([2, 0]), ArrayChunk([0, 0, 0, 0, 0, 1, 0, 0, 0, 0])])
        }
    }
}
