import Testing
import TetherReactor
import TetherTesting

/// Sends `batches` gathered sends of `slicesPerBatch` slices continuing `pattern`, on the caller's actor.
private nonisolated(nonsending) func sendPattern(
    _ batches: Int, slicesPerBatch: Int, sliceBytes: Int, pattern: ByteStreamPattern, on socket: StreamSocket
) async throws {
    var position = 0
    for _ in 0..<batches {
        var batch: [BufferSlice] = []
        for _ in 0..<slicesPerBatch {
            batch.append(pattern.slice(from: position, count: sliceBytes))
            position += sliceBytes
        }
        try await socket.send(batch)
    }
}

private enum PlainSender {
    static func send(
        _ batches: Int, slicesPerBatch: Int, sliceBytes: Int, pattern: ByteStreamPattern, on socket: StreamSocket
    ) async throws {
        try await sendPattern(
            batches, slicesPerBatch: slicesPerBatch, sliceBytes: sliceBytes, pattern: pattern, on: socket)
    }
}

/// Sends from an actor pinned to the reactor, as a multiplexer session does.
private actor PinnedSender {
    let reactor: Reactor
    nonisolated var unownedExecutor: UnownedSerialExecutor { reactor.unownedSerialExecutor }

    init(reactor: Reactor) {
        self.reactor = reactor
    }

    func send(_ batches: Int, slicesPerBatch: Int, sliceBytes: Int, pattern: ByteStreamPattern, on socket: StreamSocket)
        async throws
    {
        try await sendPattern(
            batches, slicesPerBatch: slicesPerBatch, sliceBytes: sliceBytes, pattern: pattern, on: socket)
    }
}

extension ReactorSuite {
    @Suite(.timeLimit(.minutes(1))) struct GatherOrderTests {
        /// Gathered sends of more iovecs than one `sendmsg` takes (so each is several `sendmsg`s),
        /// on two connections of one reactor at once, in both directions: every byte arrives in order.
        @Test func manyIovecSendsOnTwoConnectionsKeepTheirOrder() async throws {
            try await withReactor { reactor in
                let pairs = [try StreamSocket.makePair(on: reactor), try StreamSocket.makePair(on: reactor)]
                let batches = 300
                let slicesPerBatch = 256
                let sliceBytes = 12
                let total = batches * slicesPerBatch * sliceBytes
                // Each receiver returns the bytes it read; a sender returns nil.
                let received = try await withThrowingTaskGroup(of: Int?.self) { group in
                    for (index, (a, b)) in pairs.enumerated() {
                        for (direction, (sender, receiver)) in [(a, b), (b, a)].enumerated() {
                            let pattern = ByteStreamPattern(seed: UInt64(index * 2 + direction + 1))
                            // One connection's senders are tasks, the other's actors pinned to the reactor.
                            group.addTask(executorPreference: reactor) {
                                if index == 0 {
                                    try await PlainSender.send(
                                        batches, slicesPerBatch: slicesPerBatch, sliceBytes: sliceBytes,
                                        pattern: pattern,
                                        on: sender)
                                } else {
                                    try await PinnedSender(reactor: reactor).send(
                                        batches, slicesPerBatch: slicesPerBatch, sliceBytes: sliceBytes,
                                        pattern: pattern,
                                        on: sender)
                                }
                                return nil
                            }
                            group.addTask(executorPreference: reactor) {
                                var position = 0
                                while position < total, let slice = try await receiver.receive() {
                                    if let mismatch = pattern.firstMismatch(in: slice, at: position) {
                                        throw OutOfOrder(position: position + mismatch)
                                    }
                                    position += slice.count
                                }
                                // Short of `total`: the stream ended early. Thrown, so that the
                                // group cancels the senders, which may wait for a reader.
                                guard position == total else { throw EndedEarly(position: position) }
                                return position
                            }
                        }
                    }
                    var counts: [Int] = []
                    for try await count in group { if let count { counts.append(count) } }
                    return counts
                }
                #expect(received == [total, total, total, total])
                for (a, b) in pairs {
                    try await a.close()
                    try await b.close()
                }
            }
        }
    }
}

private struct OutOfOrder: Error {
    var position: Int
}

private struct EndedEarly: Error {
    var position: Int
}
