/// Bounds on what a ``MessagePackReader`` or ``MessagePackDecoder`` accepts, so that input from
/// a peer cannot make the decoder allocate without bound or recurse without bound.
///
/// Every length and count is checked against these limits and against the bytes actually left
/// in the input *before* anything is allocated for it: an `array32` header claiming four billion
/// elements in a six-byte message fails at once.
public struct MessagePackLimits: Sendable, Hashable {
    /// How deeply arrays and maps may nest. A top-level scalar has depth 0, the elements of a
    /// top-level array depth 1. It also bounds recursion (stack use) while decoding, so keep it
    /// in the hundreds. Default 128.
    public var maxDepth: Int
    /// The most elements one array header, or entries one map header, may announce.
    /// Default 1,048,576 (2²⁰).
    public var maxCollectionCount: Int
    /// The longest string, in UTF-8 bytes. Default 64 MiB.
    public var maxStringBytes: Int
    /// The longest binary value, in bytes. Default 64 MiB.
    public var maxBinaryBytes: Int
    /// The longest extension payload (after its type byte), in bytes. Default 64 MiB.
    public var maxExtensionBytes: Int

    public init(
        maxDepth: Int = 128,
        maxCollectionCount: Int = 1 << 20,
        maxStringBytes: Int = 64 << 20,
        maxBinaryBytes: Int = 64 << 20,
        maxExtensionBytes: Int = 64 << 20
    ) {
        self.maxDepth = maxDepth
        self.maxCollectionCount = maxCollectionCount
        self.maxStringBytes = maxStringBytes
        self.maxBinaryBytes = maxBinaryBytes
        self.maxExtensionBytes = maxExtensionBytes
    }
}
