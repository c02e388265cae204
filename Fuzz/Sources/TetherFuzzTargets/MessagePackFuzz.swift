import TetherMessagePack

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The MessagePack reader and Codable decoder on arbitrary bytes.
///
/// Input: a byte choosing the limits, then the bytes to decode. Invariants: every failure is a
/// ``MessagePackError`` (or a `DecodingError` of synthesized code); `readValue` and `skipValue` agree on validity and on where a value ends
/// (skipping checks no UTF-8 and no timestamp payloads); a decoded value, encoded again, decodes
/// to a value that encodes to the same bytes, for the dynamic ``MessagePackValue`` and for typed
/// values alike.
enum MessagePackFuzz {
    static let limits = [
        MessagePackLimits(),
        MessagePackLimits(
            maxDepth: 3, maxCollectionCount: 6, maxStringBytes: 20, maxBinaryBytes: 40, maxExtensionBytes: 8),
        MessagePackLimits(maxDepth: 64, maxCollectionCount: 1 << 12),
    ]

    static func run(_ bytes: [UInt8]) {
        var input = FuzzInput(bytes)
        let limits = input.pick(limits)
        let body = input.rest()
        var valueReader = MessagePackReader(bytes: body, limits: limits)
        var skipReader = valueReader
        let value = Result { () throws(MessagePackError) in try valueReader.readValue() }
        let skipped = Result { () throws(MessagePackError) in try skipReader.skipValue() }
        switch (value, skipped) {
        case (.success, .success):
            check(valueReader.offset == skipReader.offset, "readValue and skipValue end at different offsets")
        case (.success, .failure(let error)):
            violation("skipValue failed where readValue did not: \(error)")
        case (.failure(let error), .success):
            check(error.code == .invalidUTF8 || error.code == .invalidTimestamp, "only readValue failed: \(error)")
        case (.failure, .failure):
            break
        }
        let decoder = MessagePackDecoder(limits: limits)
        roundTrip(MessagePackValue.self, body, decoder)
        roundTrip(Int.self, body, decoder)
        roundTrip(UInt8.self, body, decoder)
        roundTrip(Double.self, body, decoder)
        roundTrip(Float.self, body, decoder)
        roundTrip(String.self, body, decoder)
        roundTrip([UInt8].self, body, decoder)
        roundTrip(Data.self, body, decoder)
        roundTrip(Date.self, body, decoder)
        roundTripValue([String: Int].self, body, decoder)
        roundTrip([Int?].self, body, decoder)
        roundTrip(FuzzRecord.self, body, decoder)
        roundTrip(FuzzChoice.self, body, decoder)
    }

    /// Like ``roundTrip(_:_:_:)`` but compares values: a dictionary's encoding follows its
    /// (unspecified) iteration order, so equal dictionaries may encode differently.
    static func roundTripValue<T: Codable & Equatable>(_ type: T.Type, _ bytes: [UInt8], _ decoder: MessagePackDecoder)
    {
        guard let decoded = try? decoder.decode(T.self, from: bytes) else { return }
        do {
            let again = try MessagePackDecoder().decode(T.self, from: MessagePackEncoder().encode(decoded))
            check(again == decoded, "a decoded \(T.self) does not round-trip")
        } catch {
            violation("a decoded \(T.self) does not encode and decode again: \(error)")
        }
    }

    /// Decodes `bytes` as a `T`; if that works, encoding and decoding again must be stable.
    static func roundTrip<T: Codable>(_ type: T.Type, _ bytes: [UInt8], _ decoder: MessagePackDecoder) {
        let decoded: T
        do {
            decoded = try decoder.decode(T.self, from: bytes)
        } catch {
            // Synthesized Codable code (an enum's single-key map) throws DecodingError itself.
            check(error is MessagePackError || error is DecodingError, "decoding a \(T.self) failed with \(error)")
            return
        }
        let encoder = MessagePackEncoder()
        do {
            let encoded = try encoder.encode(decoded)
            let again = try MessagePackDecoder().decode(T.self, from: encoded)
            let encodedAgain = try encoder.encode(again)
            check(encoded == encodedAgain, "a decoded \(T.self) does not round-trip")
        } catch {
            violation("a decoded \(T.self) does not encode and decode again: \(error)")
        }
    }
}

/// A record with optional fields of the common kinds, nested.
struct FuzzRecord: Codable {
    var id: Int
    var name: String?
    var scores: [Double]?
    var tags: [String: UInt16]?
    var blob: Data?
    var when: Date?
    var children: [FuzzRecord]?
    var choice: FuzzChoice?
}

/// An enum with associated values, as Codable synthesizes it (a single-key map).
indirect enum FuzzChoice: Codable {
    case none
    case number(Int64)
    case pair(String, flag: Bool)
    case nested(FuzzRecord?)
}
