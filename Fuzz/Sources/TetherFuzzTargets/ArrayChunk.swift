import TetherYamux

/// Received bytes as the session sees them: a window onto shared storage, sliced without copying,
/// as the reactor's buffer slices are.
struct ArrayChunk: FrameByteChunk {
    final class Storage: Sendable {
        let bytes: [UInt8]
        init(_ bytes: [UInt8]) { self.bytes = bytes }
    }

    let storage: Storage
    let range: Range<Int>

    init(_ bytes: [UInt8]) {
        storage = Storage(bytes)
        range = 0..<bytes.count
    }

    private init(storage: Storage, range: Range<Int>) {
        self.storage = storage
        self.range = range
    }

    var count: Int { range.count }

    func slice(_ subrange: Range<Int>) -> ArrayChunk {
        check(subrange.lowerBound >= 0 && subrange.upperBound <= count, "slice \(subrange) of a \(count)-byte chunk")
        return ArrayChunk(
            storage: storage, range: (range.lowerBound + subrange.lowerBound)..<(range.lowerBound + subrange.upperBound)
        )
    }

    func byte(at index: Int) -> UInt8 {
        check(index >= 0 && index < count, "byte \(index) of a \(count)-byte chunk")
        return storage.bytes[range.lowerBound + index]
    }

    var bytes: [UInt8] { Array(storage.bytes[range]) }
}
