/// A run of received bytes that the frame decoder can read and slice without copying.
///
/// The reactor's reference-counted receive-buffer slices conform to this protocol: a slice keeps
/// its buffer alive, and the buffer goes back to the kernel's provided-buffer ring when the last
/// slice is released. The decoder only ever reads header bytes and hands out payload slices, so
/// payload bytes are never copied by the multiplexer.
///
/// Indices are relative to the chunk: valid indices are `0..<count`.
public protocol FrameByteChunk: Sendable {
    /// The number of bytes in the chunk.
    var count: Int { get }
    /// A chunk viewing `range` of this one, sharing its storage.
    func slice(_ range: Range<Int>) -> Self
    /// The byte at `index`, which must be in `0..<count`.
    func byte(at index: Int) -> UInt8
}
