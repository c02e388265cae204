extension Duration {
    /// The duration in whole nanoseconds: 0 when negative, `UInt64.max` when longer than that
    /// (about 584 years). The one conversion the reactor, the multiplexer and RPC share.
    public var clampedNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        let (total, carry) = whole.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000))
        return overflow || carry ? UInt64.max : total
    }
}
