import TetherReactor

/// A deterministic pseudo-random byte stream in which every byte depends on its position, so a
/// receiver can check data it never stored: a lost, duplicated or reordered byte is caught at the
/// first wrong position.
///
/// Each 8-byte word at index `w` is `splitmix64(seed &+ w)`.
public struct ByteStreamPattern: Sendable {
    public let seed: UInt64

    public init(seed: UInt64) { self.seed = seed }

    /// The byte at absolute stream position `position`.
    @inline(__always)
    public func byte(at position: Int) -> UInt8 {
        let word = Self.mix(seed &+ UInt64(position >> 3))
        return UInt8(truncatingIfNeeded: word >> (UInt64(position & 7) * 8))
    }

    /// A slice holding stream bytes `start ..< start + count`.
    public func slice(from start: Int, count: Int) -> BufferSlice {
        BufferSlice(count: count) { span in
            var position = start
            var index = 0
            // Whole words where aligned: 8x fewer mixes than byte by byte.
            while index < count {
                let word = Self.mix(seed &+ UInt64(position >> 3))
                var shift = UInt64(position & 7) * 8
                while shift < 64, index < count {
                    span[index] = UInt8(truncatingIfNeeded: word >> shift)
                    shift += 8
                    index += 1
                    position += 1
                }
            }
        }
    }

    /// The position of the first byte of `slice` that differs from the stream starting at
    /// `start`, or nil if all match.
    public func firstMismatch(in slice: BufferSlice, at start: Int) -> Int? {
        slice.withSpan { span in
            var position = start
            var index = 0
            while index < span.count {
                let word = Self.mix(seed &+ UInt64(position >> 3))
                var shift = UInt64(position & 7) * 8
                while shift < 64, index < span.count {
                    if span[index] != UInt8(truncatingIfNeeded: word >> shift) { return position }
                    shift += 8
                    index += 1
                    position += 1
                }
            }
            return nil
        }
    }

    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
