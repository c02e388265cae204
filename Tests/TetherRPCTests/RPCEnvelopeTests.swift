import Testing
import TetherMessagePack
import TetherReactor

@testable import TetherRPC

@Suite struct RPCEnvelopeTests {
    let builder = RPCMessageBuilder(encoder: MessagePackEncoder(), maxMessageBytes: 1024)

    private func callMessage() throws -> [UInt8] {
        var arguments = RPCArgumentEncoder(encoder: MessagePackEncoder())
        try arguments.encode("key")
        try arguments.encode(42)
        return try builder.call(
            service: nil, method: "KeyValue.get(_:)", timeoutNanoseconds: 5_000, arguments: arguments)
    }

    @Test func callMessageHasTheSpecifiedBytes() throws {
        let bytes = try callMessage()
        // [1, nil, "KeyValue.get(_:)", 5000, ["key", 42]]
        let body: [UInt8] =
            [0x95, 0x01, 0xc0, 0xb0] + Array("KeyValue.get(_:)".utf8) + [0xcd, 0x13, 0x88, 0x92, 0xa3]
            + Array("key".utf8) + [0x2a]
        #expect(bytes == [0, 0, 0, UInt8(body.count)] + body)
    }

    @Test func framerCutsMessagesSplitAcrossSlicesAndPackedInOne() throws {
        let one = try callMessage()
        let two = builder.emptyResult()
        let stream = one + two + one
        // Every split point: the framer must give back the same three messages.
        for split in 1..<stream.count {
            var framer = RPCMessageFramer(maxMessageBytes: 1024)
            framer.append(BufferSlice(copying: stream[..<split]))
            var bodies: [[UInt8]] = []
            while let body = try framer.next() { bodies.append(Array(body)) }
            framer.append(BufferSlice(copying: stream[split...]))
            while let body = try framer.next() { bodies.append(Array(body)) }
            #expect(bodies == [Array(one.dropFirst(4)), Array(two.dropFirst(4)), Array(one.dropFirst(4))])
            #expect(!framer.hasPartialMessage)
        }
    }

    @Test func framerKnowsTheSizeOfTheMessageItIsWaitingFor() throws {
        var framer = RPCMessageFramer(maxMessageBytes: 1024)
        framer.append(BufferSlice(copying: [0, 0]))
        #expect(framer.incompleteMessageBodyBytes == nil, "the length prefix is not all there")
        framer.append(BufferSlice(copying: [1, 0, 0x92]))
        #expect(try framer.next() == nil)
        #expect(framer.incompleteMessageBodyBytes == 256)
        framer.append(BufferSlice(copying: [UInt8](repeating: 0, count: 255) + [0, 0, 0, 1]))
        #expect(framer.incompleteMessageBodyBytes == nil, "complete: nothing to wait for")
        #expect(try framer.next()?.count == 256)
        #expect(framer.incompleteMessageBodyBytes == 1, "the next message's prefix is there")
    }

    @Test func oversizedMessageIsRefusedBeforeItArrives() {
        var framer = RPCMessageFramer(maxMessageBytes: 1024)
        framer.append(BufferSlice(copying: [0x7f, 0xff, 0xff, 0xff]))
        #expect(throws: RPCError(.messageTooLarge, "2147483647-byte message exceeds the 1024-byte limit")) {
            _ = try framer.next()
        }
    }

    @Test func callHeaderDecodes() throws {
        let bytes = try callMessage()
        guard case .call(let header) = try RPCMessage.decode(bytes[4...], limits: MessagePackLimits()) else {
            Issue.record("not a call")
            return
        }
        #expect(header.service == nil)
        #expect(header.method == "KeyValue.get(_:)")
        #expect(header.interfaceName == "KeyValue")
        #expect(header.timeoutNanoseconds == 5_000)
        #expect(header.argumentCount == 2)
        var arguments = RPCArgumentDecoder(
            reader: header.arguments, count: 2, decoder: MessagePackDecoder(), method: header.method)
        #expect(try arguments.decode(String.self) == "key")
        #expect(try arguments.decode(Int.self) == 42)
        #expect(throws: RPCError.self) { _ = try arguments.decode(Int.self) }
    }

    @Test(arguments: [
        [0x90] as [UInt8],  // empty array
        [0x91, 0x07],  // unknown kind
        [0x93, 0x01, 0xc0, 0xa1],  // call with 3 elements
        [0x95, 0x01, 0xc0, 0x2a, 0xc0, 0x90],  // method is not a string
        [0x92, 0x04, 0xa1],  // failure with 2 elements
        [0xc1],  // never used byte
        [],  // nothing
    ])
    func malformedMessagesAreProtocolViolations(body: [UInt8]) {
        let error = #expect(throws: RPCError.self) { _ = try RPCMessage.decode(body[...], limits: MessagePackLimits()) }
        #expect(error?.code == .protocolViolation)
    }

    @Test func failureRoundTripsRPCErrors() throws {
        let sent = RPCFailure(RPCError(.deadlineExceeded, "late"), encoder: MessagePackEncoder())
        let bytes = try builder.failure(sent)
        guard case .failure(let received) = try RPCMessage.decode(bytes[4...], limits: MessagePackLimits()) else {
            Issue.record("not a failure")
            return
        }
        #expect(received == sent)
        let error = received.error(decoder: MessagePackDecoder(), knownErrors: [])
        #expect(error as? RPCError == RPCError(.deadlineExceeded, "late"))
    }
}
