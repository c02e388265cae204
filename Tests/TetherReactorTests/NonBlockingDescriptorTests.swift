import Glibc
import Synchronization
import Testing
import TetherReactor
import TetherTesting

extension ReactorSuite {
    /// A descriptor handed over with `O_NONBLOCK` set (by the code that made it, or inherited):
    /// a kernel that honours the flag completes a read or write that cannot proceed with `EAGAIN`
    /// instead of waiting. The reactor then waits for readiness (a poll) before it submits the
    /// operation again: submitting it at once would come back at once, every loop turn, for as
    /// long as nothing arrives or the peer does not read.
    ///
    /// The kernel here (6.18) waits even with `O_NONBLOCK`, so each test sets the flag and also
    /// has the fault injector answer the operation with `EAGAIN`, as such a kernel would.
    @Suite(.timeLimit(.minutes(1))) struct NonBlockingDescriptorTests {
        @Test func aPipeReadAnsweredWithEAGAINWaitsForInput() async throws {
            let injector = FaultInjector()
            try await withReactor(configuration: .injectingFaults(injector)) { reactor in
                let (reader, writer) = try reactor.makePipe()
                let fd = reader.fileDescriptor.rawValue
                try Self.setNonBlocking(fd)
                injector.add(.init(.receive, fileDescriptor: fd, times: Self.eagains, fault: .fail(errno: EAGAIN)))
                let read = Task(executorPreference: reactor) { try await reader.read()?.bytes }
                let submissions = try await Self.submissionsWhileIdle(reactor)
                #expect(submissions < 50, "\(submissions) submissions in 200 ms with nothing to read")
                injector.removeAllRules()  // input is coming: a kernel would not answer EAGAIN now
                try await writer.write(BufferSlice(copying: [1, 2, 3]))
                #expect(try await read.value == [1, 2, 3])
                try await writer.close()
                try await reader.close()
                #expect(await reactor.counters().operationsInFlight == 0)
            }
        }

        @Test func aSocketReceiveAnsweredWithEAGAINWaitsForInput() async throws {
            let injector = FaultInjector()
            try await withReactor(configuration: .injectingFaults(injector)) { reactor in
                let (a, b) = try StreamSocket.makePair(on: reactor)
                let fd = b.fileDescriptor.rawValue
                try Self.setNonBlocking(fd)
                injector.add(.init(.receive, fileDescriptor: fd, times: Self.eagains, fault: .fail(errno: EAGAIN)))
                let received = Task(executorPreference: reactor) { try await b.receive()?.bytes }
                let submissions = try await Self.submissionsWhileIdle(reactor)
                #expect(submissions < 50, "\(submissions) submissions in 200 ms with nothing to receive")
                injector.removeAllRules()
                try await a.send(BufferSlice(copying: [4, 5]))
                #expect(try await received.value == [4, 5])
                try await a.close()
                try await b.close()
                #expect(await reactor.counters().operationsInFlight == 0)
            }
        }

        /// A write into a full pipe: it waits for room, and every byte arrives once and in order
        /// when the reader drains the pipe.
        @Test func aPipeWriteAnsweredWithEAGAINWaitsForRoom() async throws {
            let injector = FaultInjector()
            try await withReactor(configuration: .injectingFaults(injector)) { reactor in
                let (reader, writer) = try reactor.makePipe()
                let fd = writer.fileDescriptor.rawValue
                try Self.setNonBlocking(fd)
                let pipeBytes = Int(fcntl(fd, 1032))  // F_GETPIPE_SZ, which Glibc does not import
                try #require(pipeBytes > 0)
                let pattern = ByteStreamPattern(seed: 7)
                try await writer.write(pattern.slice(from: 0, count: pipeBytes))  // now full
                injector.add(.init(.send, fileDescriptor: fd, times: Self.eagains, fault: .fail(errno: EAGAIN)))
                let more = 1000
                let write = Task(executorPreference: reactor) {
                    try await writer.write(pattern.slice(from: pipeBytes, count: more))
                }
                let submissions = try await Self.submissionsWhileIdle(reactor)
                #expect(submissions < 50, "\(submissions) submissions in 200 ms with the pipe full")
                injector.removeAllRules()
                var received = 0
                var intact = true
                while received < pipeBytes + more, let slice = try await reader.read() {
                    if pattern.firstMismatch(in: slice, at: received) != nil { intact = false }
                    received += slice.count
                }
                try await write.value
                #expect(received == pipeBytes + more)
                #expect(intact, "a byte was lost, doubled or reordered")
                try await writer.close()
                #expect(try await reader.read() == nil)
                try await reader.close()
                #expect(await reactor.counters().operationsInFlight == 0)
            }
        }

        /// A write waiting for room is not sent after its pipe was closed: the fd number may name
        /// another file by then (here a new pipe, which gets it), which must receive nothing.
        @Test func aWriteWaitingForRoomIsNotSentAfterItsPipeClosed() async throws {
            let injector = FaultInjector()
            try await withReactor(configuration: .injectingFaults(injector)) { reactor in
                let (reader, writer) = try reactor.makePipe()
                let fd = writer.fileDescriptor.rawValue
                try Self.setNonBlocking(fd)
                let pipeBytes = Int(fcntl(fd, 1032))  // F_GETPIPE_SZ
                try #require(pipeBytes > 0)
                try await writer.write(BufferSlice(copying: Array(repeating: 1, count: pipeBytes)))
                injector.add(.init(.send, fileDescriptor: fd, times: 1, fault: .fail(errno: EAGAIN)))
                let write = Task(executorPreference: reactor) {
                    try await writer.write(BufferSlice(copying: Array(repeating: 2, count: 100)))
                }
                _ = try await Self.submissionsWhileIdle(reactor)  // the write waits in its poll
                // Once closed, the old fd number becomes a write end of a new pipe.
                let (newReader, newWriter) = try reactor.makePipe()
                try await writer.close()
                let reused = fcntl(newWriter.fileDescriptor.rawValue, F_DUPFD_CLOEXEC, fd)
                try #require(reused == fd, "fd \(fd) was not free for reuse")
                // Room in the old pipe: the poll completes.
                var drained = 0
                while drained < pipeBytes, let slice = try await reader.read() { drained += slice.count }
                let error = await #expect(throws: ReactorError.self) { try await write.value }
                #expect(error?.code == .closed)
                #expect(Glibc.close(reused) == 0)
                try await newWriter.close()
                #expect(try await newReader.read() == nil, "the write went to the new pipe")
                try await newReader.close()
                try await reader.close()
                #expect(await reactor.counters().operationsInFlight == 0)
            }
        }

        /// A completion-driven gathered send (the mux's) to a peer that does not read: once the
        /// socket's buffers are full it waits for room, and every byte arrives once and in order
        /// when the peer reads.
        @Test func aGatheredSendAnsweredWithEAGAINWaitsForRoom() async throws {
            let injector = FaultInjector()
            try await withReactor(configuration: .injectingFaults(injector)) { reactor in
                let (a, b) = try StreamSocket.makePair(on: reactor)
                let fd = a.fileDescriptor.rawValue
                try Self.setNonBlocking(fd)
                // The first sendmsg fills the socket's buffers; every later one is answered EAGAIN.
                injector.add(
                    .init(.send, fileDescriptor: fd, after: 1, times: Self.eagains, fault: .fail(errno: EAGAIN)))
                let pattern = ByteStreamPattern(seed: 9)
                let total = 8 * 1024 * 1024
                let done = SendResult()
                try await withTaskExecutorPreference(reactor) {
                    try a.startSending([pattern.slice(from: 0, count: total)], to: done)
                }
                let submissions = try await Self.submissionsWhileIdle(reactor)
                #expect(submissions < 50, "\(submissions) submissions in 200 ms with the peer not reading")
                injector.removeAllRules()
                var received = 0
                var intact = true
                while received < total, let slice = try await b.receive() {
                    if pattern.firstMismatch(in: slice, at: received) != nil { intact = false }
                    received += slice.count
                }
                #expect(received == total)
                #expect(intact, "a byte was lost, doubled or reordered")
                #expect(try await eventually { done.result != nil })
                #expect(done.succeeded)
                try await a.close()
                try await b.close()
                #expect(await reactor.counters().operationsInFlight == 0)
            }
        }

        /// Answers for 200 ms of waiting: a rule that outlasts them.
        private static let eagains = 10_000

        private static func setNonBlocking(_ fd: Int32) throws {
            let flags = fcntl(fd, F_GETFL)
            try #require(flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0)
        }

        /// Submissions over 200 ms once the operation is in the kernel: a few while it waits for
        /// readiness, thousands when each `EAGAIN` is submitted again at once.
        private static func submissionsWhileIdle(_ reactor: Reactor) async throws -> UInt64 {
            #expect(try await eventually { await reactor.counters().operationsInFlight >= 1 }, "submitted")
            let before = await reactor.counters().submissions
            try await Task.sleep(for: .milliseconds(200))
            return await reactor.counters().submissions - before
        }
    }
}

/// What a gathered send's handler was told.
private final class SendResult: SendHandler, @unchecked Sendable {
    // SAFETY: written once on the reactor thread, read by the test after `eventually` saw it.
    private let state = Mutex<Result<Void, any Error>?>(nil)
    var result: Result<Void, any Error>? { state.withLock { $0 } }
    var succeeded: Bool { if case .success = result { true } else { false } }
    func sent(_ result: Result<Void, any Error>) { state.withLock { $0 = result } }
}
