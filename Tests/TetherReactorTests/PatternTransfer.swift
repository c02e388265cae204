import Testing
import TetherReactor
import TetherTesting

/// Sends `bytes` of a seeded pattern from `sender` in gathered sends of varied sizes (1 byte to
/// `largestSend`, several slices per call: gather sends), half-closes, and checks every slice
/// `receiver` gets (each at most `maxChunk` bytes) against the pattern; returns how many bytes
/// arrived.
func transferPattern(
    from sender: StreamSocket, to receiver: StreamSocket, bytes: Int, seed: UInt64, largestSend: Int = 200 * 1024,
    maxChunk: Int = .max
) async throws -> Int {
    let pattern = ByteStreamPattern(seed: seed)
    async let sent: Void = {
        var position = 0
        var chunk = 1
        while position < bytes {
            chunk = (chunk * 7 + 13) % largestSend + 1
            let first = min(chunk, bytes - position)
            let second = min(chunk / 3, bytes - position - first)
            var slices = [pattern.slice(from: position, count: first)]
            if second > 0 { slices.append(pattern.slice(from: position + first, count: second)) }
            try await sender.send(slices)
            position += first + second
        }
        try sender.shutdownWriting()
    }()
    var received = 0
    var intact = true
    while let slice = try await receiver.receive() {
        if slice.count > maxChunk || pattern.firstMismatch(in: slice, at: received) != nil { intact = false }
        received += slice.count
    }
    try await sent
    #expect(intact, "a byte was lost, doubled or reordered, or a chunk was too long")
    return received
}
