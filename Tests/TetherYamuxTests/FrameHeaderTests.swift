import Testing

@testable import TetherYamux

@Suite("Frame header")
struct FrameHeaderTests {
    @Test("encodes big-endian golden bytes")
    func goldenBytes() {
        // version 0, type WindowUpdate, flags SYN|ACK, stream 0x01020304, length 0x0A0B0C0D.
        let header = FrameHeader(type: .windowUpdate, flags: [.syn, .ack], streamID: 0x0102_0304, length: 0x0A0B_0C0D)
        #expect(header.encoded() == [0, 1, 0, 3, 1, 2, 3, 4, 0x0A, 0x0B, 0x0C, 0x0D])
    }

    @Test("golden bytes of each frame kind")
    func goldenKinds() {
        #expect(FrameHeader.data(streamID: 1, payloadBytes: 5).encoded() == [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 5])
        #expect(
            FrameHeader.windowUpdate(streamID: 2, flags: .rst, deltaBytes: 0).encoded()
                == [0, 1, 0, 8, 0, 0, 0, 2, 0, 0, 0, 0])
        #expect(
            FrameHeader.ping(opaque: 0xDEAD_BEEF, reply: false).encoded()
                == [0, 2, 0, 1, 0, 0, 0, 0, 0xDE, 0xAD, 0xBE, 0xEF])
        #expect(FrameHeader.ping(opaque: 7, reply: true).encoded() == [0, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 7])
        #expect(FrameHeader.goAway(.protocolError).encoded() == [0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
        #expect(
            FrameHeader.windowUpdate(streamID: 3, flags: .fin, deltaBytes: 0).encoded()
                == [0, 1, 0, 4, 0, 0, 0, 3, 0, 0, 0, 0])
    }

    @Test("decodes what it encodes, including extreme values and unknown flag bits")
    func roundTrip() throws {
        let headers = [
            FrameHeader(type: .data, flags: [], streamID: 0, length: 0),
            FrameHeader(type: .goAway, flags: FrameFlags(rawValue: 0xFFFF), streamID: .max, length: .max),
            FrameHeader(type: .ping, flags: .ack, streamID: 0, length: 0x8000_0001),
        ]
        for header in headers {
            #expect(try FrameHeader(decoding: header.encoded()) == header)
        }
    }

    @Test("decodes from a span with trailing bytes")
    func decodeSpan() throws {
        let bytes: [UInt8] = [0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 3, 0xAA, 0xBB, 0xCC]
        let header = try FrameHeader(decoding: bytes.span)
        #expect(header == FrameHeader(type: .data, flags: .syn, streamID: 9, length: 3))
        #expect(header.payloadByteCount == 3)
    }

    @Test("rejects a bad version")
    func badVersion() {
        #expect(throws: MuxError(.unsupportedVersion, value: 1)) {
            try FrameHeader(decoding: [1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0])
        }
    }

    @Test("rejects an unknown type")
    func unknownType() {
        #expect(throws: MuxError(.unknownFrameType, value: 4)) {
            try FrameHeader(decoding: [0, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0])
        }
    }

    @Test("rejects fewer than 12 bytes")
    func truncated() {
        #expect(throws: MuxError(.truncatedHeader, value: 11)) {
            try FrameHeader(decoding: [UInt8](repeating: 0, count: 11))
        }
    }

    @Test("only Data frames have payload bytes")
    func payloadCount() {
        #expect(FrameHeader.windowUpdate(streamID: 1, deltaBytes: 100).payloadByteCount == 0)
        #expect(FrameHeader.ping(opaque: 100, reply: false).payloadByteCount == 0)
        #expect(FrameHeader.data(streamID: 1, payloadBytes: 100).payloadByteCount == 100)
    }

    @Test("GoAway errors map to protocol error only for the peer's faults")
    func goAwayMapping() {
        #expect(MuxError(.receiveWindowExceeded).goAwayCode == .protocolError)
        #expect(MuxError(.unsupportedVersion).goAwayCode == .protocolError)
        #expect(MuxError(.keepAliveTimeout).goAwayCode == nil)
        #expect(MuxError(.remoteGoAway).goAwayCode == nil)
    }
}
