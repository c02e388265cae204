/// The receive side of one stream's flow control: how much Data the peer may still send, how much
/// has arrived but not been consumed by the application, and when to grant more.
///
/// It follows hashicorp/yamux `stream.go` (`sendWindowUpdate`, `readData`): credit is returned only
/// for bytes the application has consumed, and only in steps of at least half the window, which is
/// what gives a slow reader real backpressure. On top of that the window's maximum grows (doubles)
/// when updates are due faster than two round trips, as rust-yamux does, so a fast stream is not
/// held to 256 KiB per round trip; the growth is paid from a session-wide budget.
///
/// No clock is read here: the caller passes the time and the round-trip estimate.
public struct ReceiveWindow: Hashable, Sendable {
    /// The window every stream starts with in each direction (yamux `initialStreamWindow`).
    public static let initialWindowBytes: UInt32 = 262_144

    /// A window update to send to the peer.
    public struct Update: Hashable, Sendable {
        /// The credit to announce in the WindowUpdate frame.
        public var deltaBytes: UInt32
        /// How much of the session budget the window took to grow for this update.
        public var budgetTakenBytes: UInt64
    }

    /// The current target window (yamux `maxWindow`).
    public private(set) var maxWindowBytes: UInt32
    /// The largest the window may grow to by auto-tuning.
    public let capWindowBytes: UInt32
    /// Credit the peer still has: how many Data bytes it may send before the next update.
    public private(set) var availableBytes: UInt32
    /// Bytes received but not yet consumed by the application.
    public private(set) var bufferedBytes: UInt32
    /// What is left of the implicit 256 KiB every stream starts with; Data uses it up first.
    public private(set) var initialCreditLeftBytes: UInt32 = initialWindowBytes
    /// Growth of `maxWindowBytes` taken from the session budget so far; the session gets it back
    /// when the stream goes away.
    public private(set) var grownBytes: UInt64 = 0
    private var lastUpdateNanoseconds: UInt64?

    /// Creates a window whose peer starts with the implicit 256 KiB of credit.
    ///
    /// - Parameters:
    ///   - maxWindowBytes: the window to advertise (yamux `MaxStreamWindowSize`), at least 256 KiB.
    ///     The difference to 256 KiB is granted by the update sent with SYN or ACK.
    ///   - capWindowBytes: the auto-tuning limit; equal to `maxWindowBytes` disables growth.
    public init(maxWindowBytes: UInt32 = initialWindowBytes, capWindowBytes: UInt32? = nil) {
        precondition(maxWindowBytes >= Self.initialWindowBytes, "window below the yamux minimum of 256 KiB")
        let cap = capWindowBytes ?? maxWindowBytes
        precondition(cap >= maxWindowBytes, "window cap below the window")
        self.maxWindowBytes = maxWindowBytes
        self.capWindowBytes = cap
        self.availableBytes = Self.initialWindowBytes
        self.bufferedBytes = 0
    }

    /// Accounts for a Data frame of `byteCount` payload bytes.
    ///
    /// - Throws: ``MuxError/Code-swift.struct/receiveWindowExceeded`` if the peer sent more than its
    ///   credit; the session answers with GoAway(protocol error), as yamux does.
    public mutating func receive(_ byteCount: UInt32) throws(MuxError) {
        guard byteCount <= availableBytes else {
            throw MuxError(.receiveWindowExceeded, value: UInt64(byteCount))
        }
        availableBytes -= byteCount
        bufferedBytes += byteCount
        initialCreditLeftBytes -= min(byteCount, initialCreditLeftBytes)
    }

    /// Credit this side granted by window updates that the peer has not used yet: the part of
    /// ``availableBytes`` beyond the implicit initial credit.
    public var grantedCreditBytes: UInt32 { availableBytes - initialCreditLeftBytes }

    /// Records that the application consumed `byteCount` buffered bytes and returns the window
    /// update to send, if one is due.
    ///
    /// - Parameters:
    ///   - nowNanoseconds: the current monotonic time.
    ///   - rttNanoseconds: the session's round-trip estimate, `nil` while unknown (no auto-tuning).
    ///   - budgetBytes: how much the session budget still allows this window to grow.
    ///   - limitBytes: the most credit the update may grant; a due update that needs more is not
    ///     granted now (``isUpdateDue`` stays true) and is granted by a later call.
    /// - Precondition: `byteCount <= bufferedBytes`.
    public mutating func consume(
        _ byteCount: UInt32,
        nowNanoseconds: UInt64,
        rttNanoseconds: UInt64?,
        budgetBytes: UInt64,
        limitBytes: UInt64 = .max
    ) -> Update? {
        precondition(byteCount <= bufferedBytes, "consumed more bytes than were received")
        bufferedBytes -= byteCount
        guard isUpdateDue, UInt64(dueDeltaBytes) <= limitBytes else { return nil }
        // Growth from auto-tuning counts against the limit too.
        return update(
            forced: false, nowNanoseconds: nowNanoseconds, rttNanoseconds: rttNanoseconds,
            budgetBytes: min(budgetBytes, limitBytes - UInt64(dueDeltaBytes)))
    }

    /// The credit an update would give back now, before any auto-tuning growth. Never negative:
    /// buffered plus available bytes never exceed the window.
    private var dueDeltaBytes: UInt32 { maxWindowBytes - bufferedBytes - availableBytes }

    /// Whether enough was consumed for a window update (at least half the window), granted or not.
    public var isUpdateDue: Bool { dueDeltaBytes >= maxWindowBytes / 2 }

    /// The update that travels with SYN or ACK: `maxWindowBytes − 256 KiB`, sent even when 0
    /// because the flag must go out.
    public mutating func openingUpdate(nowNanoseconds: UInt64) -> UInt32 {
        let update = update(forced: true, nowNanoseconds: nowNanoseconds, rttNanoseconds: nil, budgetBytes: 0)
        return update?.deltaBytes ?? 0
    }

    /// yamux's rule: `delta = (max − buffered) − available`; send only if `delta ≥ max/2` or forced.
    private mutating func update(
        forced: Bool,
        nowNanoseconds: UInt64,
        rttNanoseconds: UInt64?,
        budgetBytes: UInt64
    ) -> Update? {
        guard forced || isUpdateDue else { return nil }
        var delta = UInt64(dueDeltaBytes)
        var taken: UInt64 = 0
        if let rttNanoseconds, let last = lastUpdateNanoseconds, nowNanoseconds >= last,
            nowNanoseconds - last < rttNanoseconds.multipliedReportingOverflow(by: 2).partialValue
        {
            // Updates come faster than two round trips: the window, not the reader, is the limit.
            let doubled = min(UInt64(maxWindowBytes) * 2, UInt64(capWindowBytes))
            taken = min(doubled - UInt64(maxWindowBytes), budgetBytes)
            maxWindowBytes += UInt32(taken)
            grownBytes += taken
            delta += taken
        }
        lastUpdateNanoseconds = nowNanoseconds
        availableBytes += UInt32(delta)
        return Update(deltaBytes: UInt32(delta), budgetTakenBytes: taken)
    }
}
