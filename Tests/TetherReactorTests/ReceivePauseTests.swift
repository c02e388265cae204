import Testing
import TetherReactor
import TetherTesting

/// A receive handler that checks every byte against a pattern, can pause its socket from inside
/// `received`, and counts what it is handed while paused. Touched on the reactor thread only.
final class PausingReceiver: ReceiveHandler, @unchecked Sendable {
    let pattern: ByteStreamPattern
    /// Pause the socket from inside `received` once this many bytes have arrived.
    let pauseAfterBytes: Int?
    weak var socket: StreamSocket?
    var byteCount = 0
    var mismatches = 0
    var paused = false
    var chunksWhilePaused = 0
    var ends: [String] = []
    var ended: CheckedContinuation<Void, Never>?

    init(pattern: ByteStreamPattern, pauseAfterBytes: Int? = nil) {
        self.pattern = pattern
        self.pauseAfterBytes = pauseAfterBytes
    }

    func received(_ result: Result<BufferSlice?, any Error>) {
        switch result {
        case .success(let slice?):
            if paused { chunksWhilePaused += 1 }
            if pattern.firstMismatch(in: slice, at: byteCount) != nil { mismatches += 1 }
            byteCount += slice.count
            if let pauseAfterBytes, byteCount >= pauseAfterBytes, ends.isEmpty, !pausedOnce {
                pausedOnce = true
                pause()
            }
            return
        case .success(nil): ends.append("end")
        case .failure(let error): ends.append("\((error as? ReactorError)?.code ?? .invalidArgument)")
        }
        ended?.resume()
        ended = nil
    }

    private var pausedOnce = false

    func pause() {
        paused = true
        socket?.pauseReceiving()
        socket?.pauseReceiving()  // idempotent
    }

    func resume() {
        paused = false
        socket?.resumeReceiving()
        socket?.resumeReceiving()  // idempotent
    }
}

extension ReactorSuite {
    /// Pausing a handler-mode receive: nothing is delivered and (almost) nothing read while
    /// paused, the writer blocks, and resuming delivers every byte in order.
    @Suite(.timeLimit(.minutes(1))) struct ReceivePauseTests {
        /// The handler pauses itself from inside `received`; a writer then pushes 8 MiB. While
        /// paused the handler gets nothing, the reactor holds at most a few buffers, and the
        /// writer cannot finish; after resuming every byte arrives intact, then the end once.
        @Test func pauseFromInsideTheHandlerBlocksTheWriterAndResumeDeliversEverything() async throws {
            var configuration = ReactorConfiguration()
            configuration.receiveBufferCount = 512
            configuration.receiveBufferBytes = 4 * 1024
            let bufferBytes = configuration.receiveBufferBytes
            try await withReactor(configuration: configuration) { reactor in
                let (writer, reader) = try StreamSocket.makePair(on: reactor)
                let pattern = ByteStreamPattern(seed: 21)
                let totalBytes = 8 * 1024 * 1024
                let receiver = PausingReceiver(pattern: pattern, pauseAfterBytes: 1)
                receiver.socket = reader
                try await reader.startReceiving(receiver)
                let writing = Task(executorPreference: reactor) {
                    try await writer.send(pattern.slice(from: 0, count: totalBytes))
                    try await writer.close()
                }
                #expect(
                    try await eventually(on: reactor) {
                        await Task(executorPreference: reactor) { receiver.paused }.value
                    })
                let atPause = await Task(executorPreference: reactor) { receiver.byteCount }.value
                #expect(atPause > 0)
                // Give the writer many loop turns to push whatever the reactor would take.
                for _ in 0..<20 { try await reactor.sleep(for: .milliseconds(5)) }
                let counters = await reactor.counters()
                let (whilePaused, stillAt) = await Task(executorPreference: reactor) {
                    (receiver.chunksWhilePaused, receiver.byteCount)
                }.value
                #expect(whilePaused == 0, "chunks handed to a paused handler")
                #expect(stillAt == atPause)
                // Received after the first chunk: what the kernel had already read into the ring
                // when the handler paused (about one socket buffer, ~208 KiB here) and what
                // completed before the cancellation landed. A pause that kept reading would fill
                // the whole ring (2 MiB).
                let readAhead = Int(counters.bytesIn) - atPause
                #expect(readAhead <= 128 * bufferBytes, "read \(readAhead) bytes while paused")
                #expect(counters.bytesOut < UInt64(totalBytes), "the writer must be blocked")

                await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                    Task(executorPreference: reactor) {
                        receiver.ended = done
                        receiver.resume()
                    }
                }
                try await writing.value
                let (bytes, mismatches, ends, late) = await Task(executorPreference: reactor) {
                    (receiver.byteCount, receiver.mismatches, receiver.ends, receiver.chunksWhilePaused)
                }.value
                #expect(bytes == totalBytes)
                #expect(mismatches == 0)
                #expect(ends == ["end"])
                #expect(late == 0)
                try await reader.close()
            }
        }

        /// Paused before the handler is set: data and the end of stream that arrive meanwhile are
        /// held back, and reported after resuming, the data first.
        @Test func endOfStreamWhilePausedIsReportedAfterResumeBehindTheData() async throws {
            try await withReactor { reactor in
                let (writer, reader) = try StreamSocket.makePair(on: reactor)
                let pattern = ByteStreamPattern(seed: 22)
                let totalBytes = 100_000
                let receiver = PausingReceiver(pattern: pattern)
                receiver.socket = reader
                try await Task(executorPreference: reactor) {
                    receiver.pause()
                    try await reader.startReceiving(receiver)
                }.value
                try await writer.send(pattern.slice(from: 0, count: totalBytes))
                try await writer.close()
                for _ in 0..<10 { try await reactor.sleep(for: .milliseconds(2)) }
                let (before, endsBefore) = await Task(executorPreference: reactor) {
                    (receiver.byteCount, receiver.ends)
                }.value
                #expect(before == 0)
                #expect(endsBefore.isEmpty)
                await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                    Task(executorPreference: reactor) {
                        receiver.ended = done
                        receiver.resume()
                    }
                }
                let (bytes, mismatches, ends) = await Task(executorPreference: reactor) {
                    (receiver.byteCount, receiver.mismatches, receiver.ends)
                }.value
                #expect(bytes == totalBytes)
                #expect(mismatches == 0)
                #expect(ends == ["end"])
                try await reader.close()
            }
        }

        /// Closing a paused socket tells its handler `closed` at once, once, and leaks nothing.
        @Test func closeWhilePausedTellsTheHandlerClosed() async throws {
            try await withReactor { reactor in
                // A process-wide count: sound only while no other test runs (`--no-parallel`).
                let descriptors = DescriptorSnapshot()
                let (writer, reader) = try StreamSocket.makePair(on: reactor)
                let pattern = ByteStreamPattern(seed: 23)
                let receiver = PausingReceiver(pattern: pattern, pauseAfterBytes: 1)
                receiver.socket = reader
                try await reader.startReceiving(receiver)
                try await writer.send(pattern.slice(from: 0, count: 300_000))
                #expect(
                    try await eventually(on: reactor) {
                        await Task(executorPreference: reactor) { receiver.paused }.value
                    })
                await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                    Task(executorPreference: reactor) {
                        receiver.ended = done
                        try await reader.close()
                    }
                }
                #expect(await Task(executorPreference: reactor) { receiver.ends }.value == ["closed"])
                #expect(await Task(executorPreference: reactor) { receiver.chunksWhilePaused }.value == 0)
                // Pausing or resuming a closed socket does nothing.
                await Task(executorPreference: reactor) {
                    reader.resumeReceiving()
                    reader.pauseReceiving()
                }.value
                try await writer.close()
                #expect(await reactor.counters().operationsInFlight == 0)
                #expect(descriptors.added == 0)
                #expect(await Task(executorPreference: reactor) { receiver.ends }.value == ["closed"])
            }
        }
    }
}
