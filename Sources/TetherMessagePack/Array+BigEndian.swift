// Fixed-width big-endian integers in and out of byte arrays, without pointers (the module is
// built with strict memory safety).

extension [UInt8] {
    @inline(__always)
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        var shift = T.bitWidth - 8
        while shift >= 0 {
            append(UInt8(truncatingIfNeeded: value >> shift))
            shift -= 8
        }
    }

    /// Overwrites `T.bitWidth / 8` bytes at `index`.
    @inline(__always)
    mutating func setBigEndian<T: FixedWidthInteger>(_ value: T, at index: Int) {
        var shift = T.bitWidth - 8
        var position = index
        while shift >= 0 {
            self[position] = UInt8(truncatingIfNeeded: value >> shift)
            shift -= 8
            position += 1
        }
    }
}

extension ArraySlice<UInt8> {
    /// The integer at `index`. The caller has checked that its bytes are there.
    @inline(__always)
    func bigEndian<T: FixedWidthInteger>(_: T.Type, at index: Int) -> T {
        var value: T = 0
        for position in index..<index + T.bitWidth / 8 {
            value = value << 8 | T(self[position])
        }
        return value
    }
}
