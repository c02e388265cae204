import TetherMessagePack

/// One message of the call envelope. On a call's mux stream every message is a 4-byte
/// big-endian length followed by that many bytes of one MessagePack array whose first element is
/// the kind (see docs/wire-protocol.md, "RPC envelope").
enum RPCMessageKind: UInt64 {
    /// `[1, service (str|nil), method (str), timeoutNanoseconds (uint|nil), arguments (array)]`,
    /// the first message from the caller.
    case call = 1
    /// `[2, value]`: one element of a streamed argument or result.
    case item = 2
    /// `[3, value]`: the call's result (nil for `Void` and for a finished result stream).
    case result = 3
    /// `[4, typeName (str), message (str), payload (bin|nil)]`: the call failed.
    case failure = 4
}

/// A decoded envelope message. Values stay encoded (as readers positioned at them) until the
/// typed code that knows their type decodes them.
enum RPCMessage: Sendable {
    case call(RPCCallHeader)
    case item(MessagePackReader)
    case result(MessagePackReader)
    case failure(RPCFailure)

    /// Parses one message body (without its length prefix).
    static func decode(_ body: ArraySlice<UInt8>, limits: MessagePackLimits) throws(RPCError) -> RPCMessage {
        do {
            var reader = MessagePackReader(bytes: body, limits: limits)
            let count = try reader.readArrayHeader()
            guard count >= 1, let kind = RPCMessageKind(rawValue: try reader.readUInt()) else {
                throw RPCError(.protocolViolation, "message without a known kind")
            }
            switch (kind, count) {
            case (.call, 5):
                let service = reader.readIsNil() ? nil : try reader.readString()
                let method = try reader.readString()
                let timeout = reader.readIsNil() ? nil : try reader.readUInt()
                let argumentCount = try reader.readArrayHeader()
                return .call(
                    RPCCallHeader(
                        service: service, method: method, timeoutNanoseconds: timeout,
                        argumentCount: argumentCount, arguments: reader))
            case (.item, 2):
                return .item(reader)
            case (.result, 2):
                return .result(reader)
            case (.failure, 4):
                let typeName = try reader.readString()
                let message = try reader.readString()
                let payload = reader.readIsNil() ? nil : Array(try reader.readBinary())
                guard reader.isAtEnd else { throw RPCError(.protocolViolation, "bytes after a failure message") }
                return .failure(RPCFailure(typeName: typeName, message: message, payload: payload))
            default:
                throw RPCError(.protocolViolation, "\(kind) message with \(count) elements")
            }
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError(.protocolViolation, "malformed message: \(error)")
        }
    }
}

/// The first message of a call: who is called, and its encoded arguments.
struct RPCCallHeader: Sendable {
    /// The registered name of the called service; nil for the default instance of the interface
    /// that the method identifier names.
    var service: String?
    /// `Interface.method(label:label:)`.
    var method: String
    /// Time the caller allows, measured from when the callee reads the call.
    var timeoutNanoseconds: UInt64?
    var argumentCount: Int
    /// Positioned at the first argument.
    var arguments: MessagePackReader

    /// The interface part of the method identifier (`KeyValue` in `KeyValue.get(_:)`).
    var interfaceName: Substring {
        method.prefix { $0 != "." }
    }
}

/// A failure as it travels: the thrown error's type name, description and optional encoding.
struct RPCFailure: Sendable, Equatable {
    var typeName: String
    var message: String
    var payload: [UInt8]?
}
