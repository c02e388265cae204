import Glibc

/// How far a gathered send of `slices` has got: which slice, which byte. Fills the iovecs of the
/// next `sendmsg`/`writev` and advances by what the kernel took. Shared by the awaiting send
/// (`HandleCore.writeAll`) and the completion-driven one (`GatheredSend`).
struct SendCursor {
    let slices: [BufferSlice]
    private var sliceIndex = 0
    private var offset = 0

    init(_ slices: [BufferSlice]) {
        self.slices = slices
        skipEmpty()
    }

    var isDone: Bool { sliceIndex == slices.count }

    /// Iovecs the next call needs, at most `max`.
    func iovecCount(max: Int) -> Int {
        var count = 0
        var current = sliceIndex
        var skip = offset
        while current < slices.count, count < max {
            if slices[current].count > skip { count += 1 }
            skip = 0
            current += 1
        }
        return count
    }

    /// Writes the next `count` iovecs (from ``iovecCount(max:)``) to `iovecs`.
    func fill(_ iovecs: UnsafeMutablePointer<iovec>, count: Int) {
        var current = sliceIndex
        var skip = offset
        var filled = 0
        while filled < count {
            let slice = slices[current]
            if slice.count > skip {
                unsafe iovecs[filled] = iovec(iov_base: slice.baseAddress + skip, iov_len: slice.count - skip)
                filled += 1
            }
            skip = 0
            current += 1
        }
    }

    /// The kernel took `byteCount` more bytes.
    mutating func advance(by byteCount: Int) {
        var sent = byteCount
        while sent > 0, sliceIndex < slices.count {
            let left = slices[sliceIndex].count - offset
            if sent >= left {
                sent -= left
                sliceIndex += 1
                offset = 0
            } else {
                offset += sent
                sent = 0
            }
        }
        skipEmpty()
    }

    private mutating func skipEmpty() {
        while sliceIndex < slices.count, slices[sliceIndex].count == offset {
            sliceIndex += 1
            offset = 0
        }
    }
}
