import Synchronization
import Testing
import TetherReactor
import TetherTesting

/// Collects what a socket hands its `ReceiveHandler`, on the reactor thread.
final class ReceivedLog: ReceiveHandler, @unchecked Sendable {
    // Written on the reactor thread only; read by the test after `ended` resumed it.
    let pattern: ByteStreamPattern
    var byteCount = 0
    var mismatches = 0
    var ends: [String] = []
    var ended: CheckedContinuation<Void, Never>?

    init(pattern: ByteStreamPattern) { self.pattern = pattern }

    func received(_ result: Result<BufferSlice?, any Error>) {
        switch result {
        case .success(let slice?):
            if pattern.firstMismatch(in: slice, at: byteCount) != nil { mismatches += 1 }
            byteCount += slice.count
            return
        case .success(nil): ends.append("end")
        case .failure(let error): ends.append("\((error as? ReactorError)?.code ?? .invalidArgument)")
        }
        ended?.resume()
        ended = nil
    }
}

/// Records the outcomes a `SendHandler` is told of.
final class SendLog: SendHandler, @unchecked Sendable {
    let outcomes = Mutex<[String]>([])
    let done: CheckedContinuation<Void, Never>
    init(_ done: CheckedContinuation<Void, Never>) { self.done = done }
    func sent(_ result: Result<Void, any Error>) {
        let outcome =
            switch result {
            case .success: "sent"
            case .failure(let error): "\((error as? ReactorError)?.code ?? .invalidArgument)"
            }
        outcomes.withLock { $0.append(outcome) }
        done.resume()
    }
}

extension ReactorSuite {
    /// The completion-driven forms of receive and send: a handler called from the loop instead
    /// of a task awaiting each operation.
    @Suite(.timeLimit(.minutes(1))) struct CallbackIOTests {
        /// Bytes received before the handler was set reach it first, the rest follow intact and
        /// in order, the end is reported once, and `receive()` is refused meanwhile.
        @Test func handlerGetsEveryChunkInOrderThenTheEndOnce() async throws {
            try await withReactor { reactor in
                let (a, b) = try StreamSocket.makePair(on: reactor)
                let pattern = ByteStreamPattern(seed: 7)
                let total = 3 * 1024 * 1024 + 5
                try await a.send(pattern.slice(from: 0, count: 1000))
                // One receive through the task API first: the handler must continue after it.
                let first = try #require(try await b.receive())
                #expect(pattern.firstMismatch(in: first, at: 0) == nil)
                try await a.send(pattern.slice(from: first.count, count: 4000))
                let log = ReceivedLog(pattern: pattern)
                log.byteCount = first.count
                await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                    Task(executorPreference: reactor) {
                        log.ended = done
                        try await b.startReceiving(log)
                        await #expect(throws: ReactorError.self) { _ = try await b.receive() }
                        await #expect(throws: ReactorError.self) { try await b.startReceiving(log) }
                        var position = first.count + 4000
                        while position < total {
                            let count = min(70_001, total - position)
                            try await a.send([pattern.slice(from: position, count: count)])
                            position += count
                        }
                        try await a.close()
                    }
                }
                let (bytes, mismatches, ends) = await Task(executorPreference: reactor) {
                    (log.byteCount, log.mismatches, log.ends)
                }.value
                #expect(bytes == total)
                #expect(mismatches == 0)
                #expect(ends == ["end"])
                try await b.close()
                #expect(await Task(executorPreference: reactor) { log.ends }.value == ["end"])
            }
        }

        /// Closing the socket tells the handler `closed`, once.
        @Test func closeTellsTheHandlerClosed() async throws {
            try await withReactor { reactor in
                let (a, b) = try StreamSocket.makePair(on: reactor)
                let log = ReceivedLog(pattern: ByteStreamPattern(seed: 1))
                try await b.startReceiving(log)
                try await b.close()
                #expect(await Task(executorPreference: reactor) { log.ends }.value == ["closed"])
                try await a.close()
            }
        }

        /// A gathered send of many slices (more than one `sendmsg` takes, and more than the
        /// socket buffer holds, so it completes in parts) arrives whole; the handler is told once.
        @Test func startSendingDeliversEveryByteAndTellsOnce() async throws {
            try await withReactor { reactor in
                let (a, b) = try StreamSocket.makePair(on: reactor)
                let pattern = ByteStreamPattern(seed: 3)
                var slices: [BufferSlice] = []
                var position = 0
                for index in 0..<300 {
                    let count = index % 7 == 0 ? 0 : (index * 4099) % 60_000 + 1
                    slices.append(pattern.slice(from: position, count: count))
                    position += count
                }
                let total = position
                let batch = slices
                let box = Mutex<SendLog?>(nil)
                async let sent: Void = withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                    let log = SendLog(done)
                    box.withLock { $0 = log }
                    Task(executorPreference: reactor) {
                        do {
                            try a.startSending(batch, to: log)
                        } catch {
                            Issue.record("startSending threw \(error)")
                            done.resume()
                        }
                    }
                }
                var received = 0
                while received < total, let slice = try await b.receive() {
                    #expect(pattern.firstMismatch(in: slice, at: received) == nil)
                    received += slice.count
                }
                await sent
                #expect(received == total)
                #expect(box.withLock { $0?.outcomes.withLock { $0 } } == ["sent"])
                try await a.close()
                try await b.close()
            }
        }

        /// A socket dropped right after `startSending` stays open until the send is done: every
        /// byte arrives, then the end of stream. (Holding only the fd's core, the drop closed the
        /// fd before the prepared `sendmsg` reached the kernel.)
        @Test func aSocketDroppedWhileSendingSendsEverythingFirst() async throws {
            try await withReactor { reactor in
                let pattern = ByteStreamPattern(seed: 9)
                let outcome = SendOutcome()
                let receiver = try await Task(executorPreference: reactor) { () throws -> StreamSocket in
                    let (sender, receiver) = try StreamSocket.makePair(on: reactor)
                    try sender.startSending(
                        [pattern.slice(from: 0, count: 100_000), pattern.slice(from: 100_000, count: 100_000)],
                        to: outcome)
                    return receiver  // the sender's last reference goes here, its send queued
                }.value
                var received = 0
                while let slice = try await receiver.receive() {
                    #expect(pattern.firstMismatch(in: slice, at: received) == nil)
                    received += slice.count
                }
                #expect(received == 200_000)
                #expect(await outcome.outcomes.first { _ in true } == "sent")
                try await receiver.close()
            }
        }

        /// A send to a peer that has gone fails in the handler; on a closed socket it is refused.
        @Test func startSendingReportsFailures() async throws {
            try await withReactor { reactor in
                let (a, b) = try StreamSocket.makePair(on: reactor)
                try await b.close()
                let box = Mutex<SendLog?>(nil)
                await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                    let log = SendLog(done)
                    box.withLock { $0 = log }
                    Task(executorPreference: reactor) {
                        do {
                            try a.startSending([BufferSlice(copying: [1, 2, 3])], to: log)
                        } catch {
                            Issue.record("startSending threw \(error)")
                            done.resume()
                        }
                    }
                }
                #expect(box.withLock { $0?.outcomes.withLock { $0 } } == ["system"])
                try await a.close()
                let refused = await Task(executorPreference: reactor) { () -> ReactorError.Code? in
                    do {
                        try a.startSending([BufferSlice(copying: [1])], to: NeverTold())
                        return nil
                    } catch let error as ReactorError {
                        return error.code
                    } catch {
                        return nil
                    }
                }.value
                #expect(refused == .closed)
            }
        }
    }
}

/// A send handler whose outcome is awaited as a sequence.
final class SendOutcome: SendHandler {
    let outcomes: AsyncStream<String>
    private let continuation: AsyncStream<String>.Continuation
    init() { (outcomes, continuation) = AsyncStream.makeStream(of: String.self) }
    func sent(_ result: Result<Void, any Error>) {
        switch result {
        case .success: continuation.yield("sent")
        case .failure(let error): continuation.yield("\((error as? ReactorError)?.code ?? .invalidArgument)")
        }
    }
}

/// A send handler for sends that must not start.
final class NeverTold: SendHandler {
    func sent(_ result: Result<Void, any Error>) { Issue.record("told of a send that was refused") }
}
