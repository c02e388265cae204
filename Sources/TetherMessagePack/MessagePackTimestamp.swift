#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A point in time as MessagePack's timestamp extension (type -1) carries it: whole seconds since
/// 1970-01-01 00:00:00 UTC and nanoseconds within that second.
///
/// `Date` is encoded as a timestamp too, but a `Date` holds a `Double` and cannot keep every
/// nanosecond; use this type where a timestamp must round-trip exactly.
public struct MessagePackTimestamp: Hashable, Sendable {
    /// Seconds since the Unix epoch; negative before 1970.
    public var seconds: Int64
    /// Nanoseconds added to ``seconds``, always below 1,000,000,000.
    public var nanoseconds: UInt32

    /// - Precondition: `nanoseconds < 1_000_000_000`.
    public init(seconds: Int64, nanoseconds: UInt32 = 0) {
        precondition(nanoseconds < 1_000_000_000, "MessagePackTimestamp: nanoseconds must be below 10^9")
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    /// The timestamp of `date`, to the nearest nanosecond `date`'s `Double` can tell.
    ///
    /// - Throws: ``MessagePackError/Code-swift.struct/invalidValue`` when `date` is not finite
    ///   or lies beyond what 64-bit seconds can count.
    public init(_ date: Date) throws {
        // Work from the reference date, which is what Date stores, so the only rounding is the
        // one to whole nanoseconds; the epoch shift is then exact integer arithmetic.
        let interval = date.timeIntervalSinceReferenceDate
        let whole = interval.rounded(.down)
        guard whole.isFinite, let wholeSeconds = Int64(exactly: whole),
            case (let seconds, false) = wholeSeconds.addingReportingOverflow(Self.referenceDateSeconds)
        else {
            throw MessagePackError(.invalidValue, "date \(interval) s after 2001 does not fit a timestamp")
        }
        let nanoseconds = ((interval - whole) * 1e9).rounded()
        if nanoseconds >= 1e9 {
            guard seconds < .max else {
                throw MessagePackError(.invalidValue, "date \(interval) s after 2001 does not fit a timestamp")
            }
            self.init(seconds: seconds + 1, nanoseconds: 0)
        } else {
            self.init(seconds: seconds, nanoseconds: UInt32(nanoseconds))
        }
    }

    /// The nearest `Date`.
    public var date: Date {
        // Split like `init(_:)`: exact in whole seconds while |seconds| < 2^53.
        let (sinceReference, overflow) = seconds.subtractingReportingOverflow(Self.referenceDateSeconds)
        let whole = overflow ? Double(seconds) - Double(Self.referenceDateSeconds) : Double(sinceReference)
        return Date(timeIntervalSinceReferenceDate: whole + Double(nanoseconds) / 1e9)
    }

    /// Seconds from 1970-01-01 to 2001-01-01, `Date`'s reference date.
    static let referenceDateSeconds: Int64 = 978_307_200
}

extension MessagePackTimestamp {
    /// The extension payload, in the smallest of the spec's three forms: 32-bit seconds when
    /// there are no nanoseconds and the seconds fit 32 unsigned bits; 64-bit (30 bits of
    /// nanoseconds, 34 of seconds) when the seconds fit 34 unsigned bits; 96-bit otherwise.
    func appendPayload(to bytes: inout [UInt8]) {
        if seconds >> 34 == 0 {
            let packed = UInt64(nanoseconds) << 34 | UInt64(seconds)
            if packed >> 32 == 0 {
                bytes.appendBigEndian(UInt32(packed))
            } else {
                bytes.appendBigEndian(packed)
            }
        } else {
            bytes.appendBigEndian(nanoseconds)
            bytes.appendBigEndian(seconds)
        }
    }

    /// The payload's length for ``appendPayload(to:)``: 4, 8 or 12.
    var payloadCount: Int {
        guard seconds >> 34 == 0 else { return 12 }
        return (UInt64(nanoseconds) << 34 | UInt64(seconds)) >> 32 == 0 ? 4 : 8
    }

    /// Parses a timestamp extension's payload.
    init(payload: ArraySlice<UInt8>) throws(MessagePackError) {
        let start = payload.startIndex
        switch payload.count {
        case 4:
            self.init(seconds: Int64(payload.bigEndian(UInt32.self, at: start)), nanoseconds: 0)
        case 8:
            let packed = payload.bigEndian(UInt64.self, at: start)
            try self.init(checkedSeconds: Int64(packed & 0x3_ffff_ffff), nanoseconds: UInt32(packed >> 34))
        case 12:
            try self.init(
                checkedSeconds: Int64(bitPattern: payload.bigEndian(UInt64.self, at: start + 4)),
                nanoseconds: payload.bigEndian(UInt32.self, at: start))
        default:
            throw MessagePackError(
                .invalidTimestamp, "timestamp of \(payload.count) bytes; the spec allows 4, 8 or 12")
        }
    }

    private init(checkedSeconds seconds: Int64, nanoseconds: UInt32) throws(MessagePackError) {
        guard nanoseconds < 1_000_000_000 else {
            throw MessagePackError(.invalidTimestamp, "timestamp with \(nanoseconds) nanoseconds (at most 999999999)")
        }
        self.init(seconds: seconds, nanoseconds: nanoseconds)
    }
}

extension MessagePackTimestamp: Codable {
    // MessagePackEncoder and MessagePackDecoder write and read the timestamp extension directly;
    // other coders (JSON, property lists) see a plain keyed value.
    private enum CodingKeys: String, CodingKey {
        case seconds, nanoseconds
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let seconds = try container.decode(Int64.self, forKey: .seconds)
        let nanoseconds = try container.decode(UInt32.self, forKey: .nanoseconds)
        guard nanoseconds < 1_000_000_000 else {
            throw DecodingError.dataCorruptedError(
                forKey: .nanoseconds, in: container, debugDescription: "nanoseconds must be below 10^9")
        }
        self.init(seconds: seconds, nanoseconds: nanoseconds)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(seconds, forKey: .seconds)
        try container.encode(nanoseconds, forKey: .nanoseconds)
    }
}
