import TetherMessagePack

/// Builds length-prefixed envelope messages (see ``RPCMessageKind`` for their shapes).
struct RPCMessageBuilder: Sendable {
    let encoder: MessagePackEncoder
    let maxMessageBytes: Int

    private static let lengthPrefixBytes = 4

    /// Writes `body` after a length prefix and fills the prefix in.
    private func message(
        reservingCapacity capacity: Int = 64, _ body: (inout MessagePackWriter) throws -> Void
    ) throws -> [UInt8] {
        var writer = MessagePackWriter()
        writer.bytes.reserveCapacity(capacity)
        writer.bytes.append(contentsOf: [0, 0, 0, 0])
        try body(&writer)
        let length = writer.bytes.count - Self.lengthPrefixBytes
        guard length <= maxMessageBytes else {
            throw RPCError(.messageTooLarge, "\(length)-byte message exceeds the \(maxMessageBytes)-byte limit")
        }
        writer.bytes[0] = UInt8(truncatingIfNeeded: length >> 24)
        writer.bytes[1] = UInt8(truncatingIfNeeded: length >> 16)
        writer.bytes[2] = UInt8(truncatingIfNeeded: length >> 8)
        writer.bytes[3] = UInt8(truncatingIfNeeded: length)
        return writer.bytes
    }

    func call(
        service: String?, method: String, timeoutNanoseconds: UInt64?, arguments: RPCArgumentEncoder
    ) throws -> [UInt8] {
        try message(reservingCapacity: 32 + method.utf8.count + arguments.bytes.count) { writer in
            writer.writeArrayHeader(count: 5)
            writer.writeUInt(RPCMessageKind.call.rawValue)
            if let service { writer.writeString(service) } else { writer.writeNil() }
            writer.writeString(method)
            if let timeoutNanoseconds { writer.writeUInt(timeoutNanoseconds) } else { writer.writeNil() }
            writer.writeArrayHeader(count: arguments.count)
            writer.bytes.append(contentsOf: arguments.bytes)
        }
    }

    func item<Value: Encodable>(_ value: Value) throws -> [UInt8] {
        try message { writer in
            writer.writeArrayHeader(count: 2)
            writer.writeUInt(RPCMessageKind.item.rawValue)
            try encoder.encode(value, appendingTo: &writer.bytes)
        }
    }

    func result<Value: Encodable>(_ value: Value) throws -> [UInt8] {
        try message { writer in
            writer.writeArrayHeader(count: 2)
            writer.writeUInt(RPCMessageKind.result.rawValue)
            try encoder.encode(value, appendingTo: &writer.bytes)
        }
    }

    /// `[3, nil]`: a `Void` result, or the end of a result stream.
    func emptyResult() -> [UInt8] {
        [0, 0, 0, 3, 0x92, UInt8(RPCMessageKind.result.rawValue), 0xc0]
    }

    func failure(_ failure: RPCFailure) throws -> [UInt8] {
        try message { writer in
            writer.writeArrayHeader(count: 4)
            writer.writeUInt(RPCMessageKind.failure.rawValue)
            writer.writeString(failure.typeName)
            writer.writeString(failure.message)
            if let payload = failure.payload { writer.writeBinary(payload) } else { writer.writeNil() }
        }
    }
}
