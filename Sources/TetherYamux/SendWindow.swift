/// The send side of one stream's flow control: the credit the peer has granted.
///
/// Every stream starts with the implicit 256 KiB; WindowUpdate frames add to it, Data frames
/// spend it. Unlike hashicorp/yamux, a grant that would overflow 32 bits is a protocol error
/// (as in rust-yamux) instead of silently wrapping.
public struct SendWindow: Hashable, Sendable {
    /// Bytes that may be sent before the peer grants more.
    public private(set) var creditBytes: UInt32

    /// Creates a window with the implicit initial credit of 256 KiB.
    public init() {
        creditBytes = ReceiveWindow.initialWindowBytes
    }

    /// Adds credit from a WindowUpdate.
    ///
    /// - Throws: ``MuxError/Code-swift.struct/sendWindowOverflow`` if the credit would pass `UInt32.max`.
    public mutating func grant(_ deltaBytes: UInt32) throws(MuxError) {
        let (sum, overflow) = creditBytes.addingReportingOverflow(deltaBytes)
        guard !overflow else { throw MuxError(.sendWindowOverflow, value: UInt64(deltaBytes)) }
        creditBytes = sum
    }

    /// Spends credit for one Data frame and returns its payload size:
    /// `min(creditBytes, wantedBytes, maxFrameBytes)`, which is 0 when there is no credit.
    public mutating func take(wantedBytes: Int, maxFrameBytes: Int) -> UInt32 {
        precondition(wantedBytes >= 0 && maxFrameBytes > 0, "invalid send size")
        let byteCount = UInt32(min(Int(creditBytes), wantedBytes, maxFrameBytes))
        creditBytes -= byteCount
        return byteCount
    }
}
