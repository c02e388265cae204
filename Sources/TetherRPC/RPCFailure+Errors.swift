import TetherMessagePack

extension RPCFailure {
    static let rpcErrorTypeName = "TetherRPC.RPCError"

    /// How a thrown error travels: its type's name, its description and, when it is
    /// `Encodable`, its encoding (so a caller that knows the type gets the error itself back).
    init(error: any Error, encoder: MessagePackEncoder) {
        if let rpcError = error as? RPCError {
            self.init(rpcError, encoder: encoder)
        } else if error is CancellationError {
            self.init(RPCError(.cancelled, "the handler was cancelled"), encoder: encoder)
        } else {
            let payload = (error as? any Encodable).flatMap { try? encoder.encode($0) }
            self.init(
                typeName: String(reflecting: type(of: error)), message: String(describing: error), payload: payload)
        }
    }

    init(_ error: RPCError, encoder: MessagePackEncoder) {
        self.init(typeName: Self.rpcErrorTypeName, message: error.message, payload: try? encoder.encode(error))
    }

    /// The error to throw at the caller: an ``RPCError``, a known error type decoded from its
    /// payload, or a ``RemoteError``.
    func error(decoder: MessagePackDecoder, knownErrors: [any (Error & Codable & Sendable).Type]) -> any Error {
        if typeName == Self.rpcErrorTypeName, let payload,
            let rpcError = try? decoder.decode(RPCError.self, from: payload)
        {
            return rpcError
        }
        if let payload, let known = knownErrors.first(where: { String(reflecting: $0) == typeName }) {
            if let error = Self.decode(known, from: payload, decoder: decoder) { return error }
        }
        return RemoteError(typeName: typeName, message: message, payload: payload)
    }

    private static func decode<E: Error & Codable & Sendable>(
        _ type: E.Type, from payload: [UInt8], decoder: MessagePackDecoder
    ) -> (any Error)? {
        try? decoder.decode(E.self, from: payload)
    }
}
