import TetherMessagePack
import TetherMux

/// What reading a call's messages needs: the message size limit, the decoder and the known
/// error types.
struct RPCDecodingContext: Sendable {
    let maxMessageBytes: Int
    let decoder: MessagePackDecoder
    let knownErrors: [any (Error & Codable & Sendable).Type]
    let explainConnectionLoss: (@Sendable () async -> (any Error)?)?

    init(configuration: RPCConfiguration) {
        self.maxMessageBytes = configuration.maxMessageBytes
        self.decoder = MessagePackDecoder(limits: configuration.decoderLimits)
        self.knownErrors = configuration.knownErrors
        self.explainConnectionLoss = configuration.explainConnectionLoss
    }

    /// A reader of the envelope messages arriving on `stream`; on a server, counting arriving
    /// messages against the call's `budget`.
    func messages(on stream: MuxStream, budget: RPCMessageBudget? = nil) -> RPCMessageReader {
        RPCMessageReader(stream: stream, maxMessageBytes: maxMessageBytes, limits: decoder.limits, budget: budget)
    }

    /// `error`, or the configured explanation when it is a lost connection.
    func explained(_ error: any Error) async -> any Error {
        guard let rpcError = error as? RPCError, rpcError.code == .connectionLost,
            let explain = explainConnectionLoss, let better = await explain()
        else { return error }
        return better
    }

    /// Decodes the one value left in `reader` (a result or an item).
    func decodeValue<Value: Decodable>(_ type: Value.Type, from reader: inout MessagePackReader) throws -> Value {
        do {
            let value = try decoder.decode(Value.self, from: &reader)
            guard reader.isAtEnd else { throw RPCError(.protocolViolation, "bytes after the value") }
            return value
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError(.badResult, "not a \(Value.self): \(error)")
        }
    }

    func error(for failure: RPCFailure) -> any Error {
        failure.error(decoder: decoder, knownErrors: knownErrors)
    }
}
