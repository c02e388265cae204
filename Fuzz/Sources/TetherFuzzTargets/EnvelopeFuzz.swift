import TetherMessagePack

@testable import TetherRPC

/// The RPC envelope on the bytes of a call's stream, cut into slices at arbitrary points.
///
/// Input: a byte choosing the message size limit and the argument signature, a byte `k`, `k`
/// 16-bit cut offsets, then the stream. Invariants: the framer cuts the same messages out of the
/// stream whatever the cuts, and refuses an over-long one by its prefix; a body decodes to a
/// message or fails with `protocolViolation`; a call's arguments decode into typical parameter
/// types or fail with `badArguments`; a value fails with `protocolViolation` or `badResult`; a
/// failure becomes an error without trapping.
enum EnvelopeFuzz {
    static let maxMessageBytes = [16, 300, 4_096, 1 << 20]

    static func run(_ bytes: [UInt8]) {
        var input = FuzzInput(bytes)
        let setup = input.byte()
        let maxBytes = maxMessageBytes[Int(setup) % maxMessageBytes.count]
        let signature = Int(setup >> 2) % 6
        let cutCount = input.below(8)
        let cuts = (0..<cutCount).map { _ in Int(input.uint16()) }
        let stream = input.rest()

        let expected = reference(stream, maxMessageBytes: maxBytes)
        var framer = RPCMessageFramer(maxMessageBytes: maxBytes)
        var bodies: [[UInt8]] = []
        var tooLarge = false
        framing: for piece in split(stream, at: cuts) {
            framer.append(BufferSlice(copying: piece))
            while true {
                do {
                    guard let body = try framer.next() else { break }
                    bodies.append(Array(body))
                } catch {
                    check(error.code == .messageTooLarge, "the framer failed with \(error)")
                    tooLarge = true
                    break framing
                }
            }
        }
        check(
            bodies == expected.bodies, "the framer cut \(bodies.count) messages, the reference \(expected.bodies.count)"
        )
        check(tooLarge == expected.tooLarge, "message too large: \(tooLarge), expected \(expected.tooLarge)")

        let limits = MessagePackLimits(maxDepth: 32, maxCollectionCount: 1 << 12)
        let context = RPCDecodingContext(
            configuration: {
                var configuration = RPCConfiguration()
                configuration.decoderLimits = limits
                configuration.knownErrors = [FuzzError.self]
                return configuration
            }())
        for body in bodies {
            let message: RPCMessage
            do {
                message = try RPCMessage.decode(body[...], limits: limits)
            } catch {
                check(error.code == .protocolViolation, "a message failed with \(error)")
                continue
            }
            switch message {
            case .call(let header):
                _ = header.interfaceName
                arguments(header, signature: signature, decoder: context.decoder)
            case .item(var reader), .result(var reader):
                value(signature: signature, from: &reader, context: context)
            case .failure(let failure):
                _ = context.error(for: failure)
            }
        }
    }

    /// Decodes a call's arguments as a method with one of a few typical signatures would.
    static func arguments(_ header: RPCCallHeader, signature: Int, decoder: MessagePackDecoder) {
        var arguments = RPCArgumentDecoder(
            reader: header.arguments, count: header.argumentCount, decoder: decoder, method: header.method)
        do {
            switch signature {
            case 0:
                _ = try arguments.decode(String.self)
                _ = try arguments.decode(Int.self)
            case 1:
                _ = try arguments.decode([UInt8].self)
            case 2:
                _ = try arguments.decode(String?.self)
                _ = try arguments.decode([String: String].self)
                _ = try arguments.decode(Double.self)
            case 3:
                _ = try arguments.decode(FuzzRecord.self)
            case 4:
                _ = try arguments.decode(Bool.self)
                _ = try arguments.decode(UInt64.self)
                _ = try arguments.decode([FuzzChoice].self)
            default:
                _ = try arguments.decode(FuzzError.self)
                _ = try arguments.decode(Int8.self)
            }
        } catch {
            check((error as? RPCError)?.code == .badArguments, "an argument failed with \(error)")
        }
    }

    static func value(signature: Int, from reader: inout MessagePackReader, context: RPCDecodingContext) {
        do {
            switch signature {
            case 0: _ = try context.decodeValue(String.self, from: &reader)
            case 1: _ = try context.decodeValue([UInt8].self, from: &reader)
            case 2: _ = try context.decodeValue([String: Int]?.self, from: &reader)
            case 3: _ = try context.decodeValue(FuzzRecord.self, from: &reader)
            case 4: _ = try context.decodeValue(FuzzChoice.self, from: &reader)
            default: _ = try context.decodeValue(FuzzError.self, from: &reader)
            }
        } catch {
            let code = (error as? RPCError)?.code
            check(code == .protocolViolation || code == .badResult, "a value failed with \(error)")
        }
    }

    /// Length-prefixed messages written out plainly.
    static func reference(_ stream: [UInt8], maxMessageBytes: Int) -> (bodies: [[UInt8]], tooLarge: Bool) {
        var bodies: [[UInt8]] = []
        var offset = 0
        while stream.count - offset >= 4 {
            let length = stream[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
            if length > maxMessageBytes { return (bodies, true) }
            guard stream.count - offset - 4 >= length else { break }
            bodies.append(Array(stream[(offset + 4)..<(offset + 4 + length)]))
            offset += 4 + length
        }
        return (bodies, false)
    }
}

/// An error type a caller knows, so a failure's payload is decoded into it.
struct FuzzError: Error, Codable, Sendable {
    var code: Int
    var reason: String
}
