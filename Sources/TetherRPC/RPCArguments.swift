import TetherMessagePack

/// Collects a call's arguments, in declaration order, as the elements of one MessagePack array.
/// Generated clients call ``encode(_:)`` once per argument.
public struct RPCArgumentEncoder {
    private let encoder: MessagePackEncoder
    private(set) var bytes: [UInt8] = []
    private(set) var count = 0

    init(encoder: MessagePackEncoder) {
        self.encoder = encoder
    }

    /// Appends the next argument.
    public mutating func encode<Value: Encodable>(_ value: Value) throws {
        try encoder.encode(value, appendingTo: &bytes)
        count += 1
    }
}

/// Reads a call's arguments in declaration order. Generated services call ``decode(_:)`` once
/// per parameter, after ``RPCIncomingCall/arguments(count:)`` checked the count.
public struct RPCArgumentDecoder {
    private var reader: MessagePackReader
    private var remaining: Int
    private let decoder: MessagePackDecoder
    private let method: String

    init(reader: MessagePackReader, count: Int, decoder: MessagePackDecoder, method: String) {
        self.reader = reader
        self.remaining = count
        self.decoder = decoder
        self.method = method
    }

    /// The next argument.
    ///
    /// - Throws: ``RPCError/Code-swift.struct/badArguments`` when there is none left or it is
    ///   not a `Value`.
    public mutating func decode<Value: Decodable>(_ type: Value.Type) throws -> Value {
        guard remaining > 0 else {
            throw RPCError(.badArguments, "\(method): more parameters than arguments")
        }
        remaining -= 1
        do {
            return try decoder.decode(Value.self, from: &reader)
        } catch {
            throw RPCError(.badArguments, "\(method): argument is not a \(Value.self): \(error)")
        }
    }
}
