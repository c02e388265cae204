import Foundation
import RPCFixtures
import Synchronization
import Testing
import TetherMessagePack
import TetherMux
import TetherReactor
import TetherTesting

@testable import TetherRPC

/// What a hostile caller's stream got back from the server.
private enum ServerAnswer: Hashable, Sendable, CustomStringConvertible {
    /// A failure message carrying an ``RPCError`` with this code.
    case failure(RPCError.Code)
    /// A result message.
    case result
    /// Another message, or a failure that is not an ``RPCError``.
    case unexpected
    /// The stream ended, was reset or the read was cancelled before a whole message arrived.
    case noMessage

    var description: String {
        switch self {
        case .failure(let code): "failure(\(code))"
        case .result: "result"
        case .unexpected: "unexpected"
        case .noMessage: "noMessage"
        }
    }
}

/// The first message the server sends on `stream`, read as raw envelope bytes.
private func answer(on stream: MuxStream) async -> ServerAnswer {
    var framer = RPCMessageFramer(maxMessageBytes: 1 << 20)
    while true {
        do {
            if let body = try framer.next() {
                switch try RPCMessage.decode(body, limits: MessagePackLimits()) {
                case .failure(let failure):
                    let error = failure.error(decoder: MessagePackDecoder(), knownErrors: [])
                    return (error as? RPCError).map { .failure($0.code) } ?? .unexpected
                case .result: return .result
                default: return .unexpected
                }
            }
            guard let slice = try await stream.read() else { return .noMessage }
            framer.append(slice)
        } catch {
            return .noMessage
        }
    }
}

/// A length prefix announcing a `bodyBytes`-byte message, then the first `sentBytes - 4` bytes
/// of a call message's body (`sentBytes` in all): a message that never completes.
private func partialMessage(bodyBytes: Int, sentBytes: Int) -> BufferSlice {
    precondition(sentBytes >= 4 && sentBytes - 4 < bodyBytes)
    var bytes: [UInt8] = [
        UInt8(truncatingIfNeeded: bodyBytes >> 24), UInt8(truncatingIfNeeded: bodyBytes >> 16),
        UInt8(truncatingIfNeeded: bodyBytes >> 8), UInt8(truncatingIfNeeded: bodyBytes),
    ]
    // [1, nil, "KeyValue.put(_:value:)", nil, ["k", bin32 …]: a call whose value never ends.
    bytes += [0x95, 0x01, 0xc0, 0xb6] + Array("KeyValue.put(_:value:)".utf8) + [0xc0, 0x92, 0xa1, 0x6b]
    let binaryBytes = bodyBytes - (bytes.count - 4) - 5
    bytes += [
        0xc6, UInt8(truncatingIfNeeded: binaryBytes >> 24), UInt8(truncatingIfNeeded: binaryBytes >> 16),
        UInt8(truncatingIfNeeded: binaryBytes >> 8), UInt8(truncatingIfNeeded: binaryBytes),
    ]
    bytes += [UInt8](repeating: 0x5a, count: max(0, sentBytes - bytes.count))
    return BufferSlice(copying: bytes.prefix(sentBytes))
}

/// The rest of the message `partialMessage(bodyBytes:sentBytes:)` began.
private func restOfMessage(bodyBytes: Int, sentBytes: Int) -> BufferSlice {
    BufferSlice(copying: [UInt8](repeating: 0x5a, count: 4 + bodyBytes - sentBytes))
}

/// Opens `count` streams on `caller`, each writing `first` (if any), and returns what the server
/// answered on each (bounded: a server that never answers gives `.noMessage`). Opens run
/// concurrently, so that opens held back by the server's limits (the ACK backlog) do not keep
/// the others from being answered.
private func hostileStreams(
    _ count: Int, on caller: MuxSession, reactor: Reactor, writing first: BufferSlice?,
    onAnswer: @escaping @Sendable () -> Void = {}
) async throws -> [ServerAnswer] {
    let answers = try await bounded(reactor: reactor) {
        await withTaskGroup(of: ServerAnswer.self) { group in
            for _ in 0..<count {
                group.addTask(executorPreference: reactor) {
                    guard let stream = try? await caller.openStream() else { return .noMessage }
                    if let first { try? await stream.write(first) }
                    let result = await answer(on: stream)
                    onAnswer()
                    return result
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
    }
    return answers ?? []
}

/// `body`'s result, or nil (and a recorded issue) when it takes more than `limit`: a server
/// that never answers fails the test instead of hanging it. The limit is far above what the
/// work needs; nothing is asserted about time.
private func bounded<Value: Sendable>(
    _ limit: Duration = .seconds(10), reactor: Reactor, _ body: @escaping @Sendable () async -> Value
) async throws -> Value? {
    await withTaskGroup(of: Value?.self) { group in
        group.addTask(executorPreference: reactor) { await body() }
        group.addTask(executorPreference: reactor) {
            try? await reactor.sleep(for: limit)
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        if first == nil { Issue.record("no answer within \(limit)") }
        return first
    }
}

/// A KeyValue store served with `configuration` on the server end of a real session pair; the
/// test plays the caller on the client end.
///
/// `muxBacklog` sets both sides' stream backlogs (the caller's unacknowledged opens, the server's
/// accept backlog), so that a flood of streams is held back in the mux rather than in the server.
private func withServer(
    _ configuration: RPCConfiguration, muxBacklog: Int? = nil,
    _ body: @Sendable (_ caller: MuxSession, _ served: MuxSession, RPCServer, Reactor) async throws -> Void
) async throws {
    var client = MuxConfiguration()
    var serverMux = MuxConfiguration()
    if let muxBacklog {
        client.maxUnacknowledgedStreams = muxBacklog
        serverMux.acceptBacklog = muxBacklog
    }
    try await withMuxSessionPair(client: client, server: serverMux) { caller, served, reactor in
        let server = RPCServer(configuration: configuration)
        server.register(KeyValueService(Store()))
        let serving = Task(executorPreference: reactor) { await server.serve(served) }
        defer { serving.cancel() }
        try await body(caller, served, server, reactor)
    }
}

/// A caller that behaves: its call must still be served.
private func wellBehavedCallSucceeds(on caller: MuxSession) async throws {
    let kv = KeyValueClient(channel: RPCChannel(session: caller).withTimeout(.seconds(20)))
    try await kv.put("after", value: Data([1, 2, 3]))
    #expect(try await kv.get("after") == Data([1, 2, 3]))
}

/// Server limits per session against a hostile caller writing raw envelope bytes: concurrent
/// calls, the call-message timeout, the budget of messages still arriving.
@Suite(.timeLimit(.minutes(1)))
struct RPCServerLimitTests {
    /// Well-behaved calls beyond the limit wait for a slot (in the mux's backlogs) and are all
    /// served: the limit is backpressure, not failure.
    @Test func callsBeyondTheLimitWaitAndAreAllServed() async throws {
        var configuration = RPCConfiguration()
        configuration.maxConcurrentCallsPerSession = 4
        try await withServer(configuration) { caller, served, server, _ in
            let kv = KeyValueClient(channel: RPCChannel(session: caller))
            try await kv.put("k", value: Data("v".utf8))
            let answered = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<500 { group.addTask { try await kv.get("k") == Data("v".utf8) } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(answered == 500)
            let load = server.load(of: served)
            #expect(load.peakActiveCalls > 1, "calls ran side by side up to the limit")
        }
    }

    /// Far more streams than the call limit, each sending 16 KiB of a 64 KiB call message and
    /// nothing more; the mux backlogs are small so that the caller's opens are held back too.
    @Test func incompleteCallMessagesAreBoundedThenTimedOut() async throws {
        var configuration = RPCConfiguration()
        configuration.maxConcurrentCallsPerSession = 8
        configuration.callMessageTimeout = .milliseconds(100)
        configuration.maxIncomingMessageBytesPerSession = 1 << 20
        try await withServer(configuration, muxBacklog: 16) { caller, served, server, reactor in
            let streamCount = 64
            let answers = try await hostileStreams(
                streamCount, on: caller, reactor: reactor,
                writing: partialMessage(bodyBytes: 64 * 1024, sentBytes: 16 * 1024))
            #expect(answers == Array(repeating: .failure(.callMessageTimeout), count: streamCount))
            #expect(try await eventually(on: reactor) { server.load(of: served).activeCalls == 0 }, "every call ended")
            let load = server.load(of: served)
            #expect(load.peakActiveCalls == 8, "the limit was reached and never exceeded")
            #expect(load.peakIncomingMessageBytes > 0)
            #expect(load.incomingMessageBytes == 0, "every partial message was released")
            #expect(load.callMessageTimeouts == streamCount)
            #expect(load.refusedMessages == 0)
            #expect(
                try await eventually(on: reactor) { await served.streamCount == 0 }, "the server released every stream")
            try await wellBehavedCallSucceeds(on: caller)
        }
    }

    /// A cancelled `serve(_ session:)` serves no further call: the stream its accept returns is
    /// reset, and the loop returns.
    @Test func aCancelledServeLoopServesNoFurtherCall() async throws {
        try await withMuxSessionPair { caller, served, reactor in
            let server = RPCServer(configuration: RPCConfiguration())
            server.register(KeyValueService(Store()))
            let serving = Task(executorPreference: reactor) { await server.serve(served) }
            let waiting = try await eventually(on: reactor) { await served.diagnostics.contains("acceptWaiters=1") }
            #expect(waiting, "the loop waits for a stream")
            serving.cancel()
            let kv = KeyValueClient(channel: RPCChannel(session: caller).withTimeout(.seconds(20)))
            let error = await #expect(throws: RPCError.self) { try await kv.put("k", value: Data([1])) }
            // The server reset the stream unserved.
            #expect(error?.code == .cancelled, "\(String(describing: error))")
            #expect(error?.message.contains("reset the call's stream") == true, "\(String(describing: error))")
            await serving.value
            #expect(server.load(of: served).peakActiveCalls == 0)
        }
    }

    /// Streams that never send a byte: held to the limit, then failed by the timeout.
    @Test func silentStreamsAreBoundedThenTimedOut() async throws {
        var configuration = RPCConfiguration()
        configuration.maxConcurrentCallsPerSession = 8
        configuration.callMessageTimeout = .milliseconds(100)
        try await withServer(configuration, muxBacklog: 16) { caller, served, server, reactor in
            let streamCount = 64
            let answers = try await hostileStreams(streamCount, on: caller, reactor: reactor, writing: nil)
            #expect(answers == Array(repeating: .failure(.callMessageTimeout), count: streamCount))
            #expect(try await eventually(on: reactor) { server.load(of: served).activeCalls == 0 }, "every call ended")
            let load = server.load(of: served)
            #expect(load.peakActiveCalls == 8)
            #expect(load.peakIncomingMessageBytes == 0)
            #expect(load.callMessageTimeouts == streamCount)
            #expect(
                try await eventually(on: reactor) { await served.streamCount == 0 }, "the server released every stream")
            try await wellBehavedCallSucceeds(on: caller)
        }
    }

    /// `serve(_ stream:)` from the application's own accept loop counts against the same limit:
    /// the loop is held back while the session's calls fill it.
    @Test func servingSingleStreamsCountsAgainstTheSessionLimit() async throws {
        var configuration = RPCConfiguration()
        configuration.maxConcurrentCallsPerSession = 2
        configuration.callMessageTimeout = .milliseconds(100)
        try await withMuxSessionPair { [configuration] caller, served, reactor in
            let server = RPCServer(configuration: configuration)
            server.register(KeyValueService(Store()))
            let accepting = Task(executorPreference: reactor) {
                while let stream = try? await served.acceptStream() { await server.serve(stream) }
            }
            defer { accepting.cancel() }
            let answers = try await hostileStreams(12, on: caller, reactor: reactor, writing: nil)
            #expect(answers == Array(repeating: .failure(.callMessageTimeout), count: 12))
            #expect(server.load(of: served).peakActiveCalls == 2)
            try await wellBehavedCallSucceeds(on: caller)
        }
    }

    /// Messages still arriving share the session's budget: one that does not fit beside them is
    /// refused at once with `resourceExhausted`; completing or resetting an admitted one gives
    /// its bytes back.
    @Test func messagesBeyondTheBudgetAreRefusedAndBytesComeBack() async throws {
        var configuration = RPCConfiguration()
        configuration.maxIncomingMessageBytesPerSession = 1 << 20
        configuration.callMessageTimeout = nil  // only the budget decides here
        let bodyBytes = 400 * 1024
        let sentBytes = 100 * 1024
        try await withServer(configuration) { caller, served, server, reactor in
            let openPartial = { @Sendable () async throws -> MuxStream in
                let stream = try await caller.openStream()
                try await stream.write(partialMessage(bodyBytes: bodyBytes, sentBytes: sentBytes))
                return stream
            }
            // Two 400 KiB messages fit in 1 MiB; each is counted once its length is known.
            let first = try await openPartial()
            #expect(
                try await eventually(on: reactor) {
                    server.load(of: served).incomingMessageBytes == bodyBytes
                }, "the first message is counted")
            let second = try await openPartial()
            #expect(
                try await eventually(on: reactor) {
                    server.load(of: served).incomingMessageBytes == 2 * bodyBytes
                }, "the second message is counted")
            // A third does not fit: its call fails at once, the first two are untouched.
            for _ in 0..<3 {
                let refused = try await openPartial()
                let refusal = try await bounded(reactor: reactor) { await answer(on: refused) }
                #expect(refusal == .failure(.resourceExhausted))
            }
            var load = server.load(of: served)
            #expect(load.refusedMessages == 3)
            #expect(load.incomingMessageBytes == 2 * bodyBytes)
            #expect(load.peakIncomingMessageBytes == 2 * bodyBytes)

            // The first message completes: its call is served and its bytes are given back.
            try await first.writeAndClose([restOfMessage(bodyBytes: bodyBytes, sentBytes: sentBytes)])
            let served1 = try await bounded(reactor: reactor) { await answer(on: first) }
            #expect(served1 == .result)
            #expect(
                try await eventually(on: reactor) {
                    server.load(of: served).incomingMessageBytes == bodyBytes
                }, "the completed message is released")
            // The second is cut off by the caller's reset: its bytes are given back too.
            await second.reset()
            #expect(
                try await eventually(on: reactor) {
                    let load = server.load(of: served)
                    return load.incomingMessageBytes == 0 && load.activeCalls == 0
                }, "the reset message is released")
            // With the budget free again, a message of the same size is admitted.
            let third = try await openPartial()
            try await third.writeAndClose([restOfMessage(bodyBytes: bodyBytes, sentBytes: sentBytes)])
            let served3 = try await bounded(reactor: reactor) { await answer(on: third) }
            #expect(served3 == .result)
            load = server.load(of: served)
            #expect(load.refusedMessages == 3)
            try await wellBehavedCallSucceeds(on: caller)
        }
    }

    /// The budget covers the items of a streamed argument too: an item that does not fit fails
    /// the call with `resourceExhausted`, which reaches a caller using the generated client.
    @Test func streamedItemsBeyondTheBudgetFailTheCall() async throws {
        var configuration = RPCConfiguration()
        configuration.maxIncomingMessageBytesPerSession = 256 * 1024
        try await withServer(configuration) { caller, _, _, _ in
            let kv = KeyValueClient(channel: RPCChannel(session: caller).withTimeout(.seconds(20)))
            // A first small row, then one of 1 MiB: it arrives in several chunks and cannot fit.
            let rows = RPCStream(elements: [
                Row(id: 0, name: "small"), Row(id: 1, name: String(repeating: "x", count: 1 << 20)),
            ])
            let error = await #expect(throws: RPCError.self) { _ = try await kv.load(rows) }
            #expect(error?.code == .resourceExhausted)
            let count = try await kv.load(RPCStream(elements: [Row(id: 0, name: "fine")]))
            #expect(count == 1)
        }
    }

    /// A flood of 256 KiB pieces of messages that never complete: the process heap stays
    /// bounded while it goes on and comes back afterwards. (Heap figures are process-wide:
    /// this expects no other test to run at the same time, as CI runs them.)
    @Test func heapStaysBoundedUnderAFloodOfIncompleteMessages() async throws {
        var configuration = RPCConfiguration()
        configuration.maxConcurrentCallsPerSession = 16
        configuration.callMessageTimeout = .milliseconds(100)
        configuration.maxIncomingMessageBytesPerSession = 1 << 20
        let piece = partialMessage(bodyBytes: 512 * 1024, sentBytes: 256 * 1024)
        try await withServer(configuration, muxBacklog: 16) { caller, served, server, reactor in
            try await wellBehavedCallSucceeds(on: caller)  // warm up what a call allocates once
            let before = ProcessMemory.heapBytesInUse()
            let peak = Atomic<Int>(before)
            let streamCount = 512
            let answers = try await hostileStreams(streamCount, on: caller, reactor: reactor, writing: piece) {
                let now = ProcessMemory.heapBytesInUse()
                var seen = peak.load(ordering: .relaxed)
                while now > seen, !peak.compareExchange(expected: seen, desired: now, ordering: .relaxed).exchanged {
                    seen = peak.load(ordering: .relaxed)
                }
            }
            let failed = answers.filter { $0 == .failure(.resourceExhausted) || $0 == .failure(.callMessageTimeout) }
            #expect(failed.count == streamCount, "\(Set(answers))")
            #expect(
                try await eventually(on: reactor) {
                    let load = server.load(of: served)
                    return load.activeCalls == 0 && load.incomingMessageBytes == 0
                }, "every call ended")
            #expect(
                try await eventually(on: reactor) { await served.streamCount == 0 }, "the server released every stream")
            let after = ProcessMemory.heapBytesInUse()
            let flood = streamCount * piece.count
            let growth = peak.load(ordering: .relaxed) - before
            // Bounded: the budget, a chunk per running call, the mux's backlogs of 256 KiB
            // windows — a few MiB; the flood is 128 MiB, which an unbounded server keeps.
            #expect(growth < 32 << 20, "heap grew by \(growth) bytes during a \(flood)-byte flood")
            #expect(after - before < 8 << 20, "heap is \(after - before) bytes above where it was")
        }
    }
}

/// The server's bookkeeping per session, without I/O.
@Suite struct RPCSessionLoadStateTests {
    @Test func slotsGoToWaitersInOrderAndRoomIsAnnouncedWhenOneIsFree() {
        var state = RPCSessionLoadState(maxConcurrentCalls: 2, maxIncomingMessageBytes: 0)
        let started = [1, 2, 3, 4].map { state.startCall(waiter: $0) }
        #expect(started == [true, true, false, false])
        let room = state.hasRoom(waiter: 5)
        #expect(!room, "an accept loop waits while the slots are taken")
        let gaveUp = state.stopWaiting(3)
        #expect(gaveUp)
        let first = state.endCall()
        #expect(first.handedTo == 4 && first.room.isEmpty, "the slot passes to the next waiter")
        #expect(state.activeCalls == 2)
        let second = state.endCall()
        #expect(second.handedTo == nil && second.room == [5], "a free slot is announced")
        #expect(state.activeCalls == 1)
        let stillWaiting = state.stopWaiting(4)
        #expect(!stillWaiting, "4 already has its slot")
        let roomNow = state.hasRoom(waiter: 6)
        #expect(roomNow)
        #expect(state.peakActiveCalls == 2)
    }

    /// The sweeper outlives the calls that come and go between its looks, until the latest
    /// deadline registered has passed: steady traffic has one sweeper, not one per call.
    @Test func overdueCallsAreTakenOnceAndSweepingEndsATimeoutAfterTheLastCall() {
        var state = RPCSessionLoadState(maxConcurrentCalls: 4, maxIncomingMessageBytes: 0)
        let (early, late, arrived) = (RPCCallControl(), RPCCallControl(), RPCCallControl())
        let startsSweeper = [
            state.awaitCallMessage(key: 1, control: early, deadlineNanoseconds: 100),
            state.awaitCallMessage(key: 2, control: late, deadlineNanoseconds: 300),
            state.awaitCallMessage(key: 3, control: arrived, deadlineNanoseconds: 50),
        ]
        #expect(startsSweeper == [true, false, false], "one sweeper at a time")
        state.callMessageWaitEnded(key: 3)
        var (overdue, next) = state.takeOverdueCalls(nowNanoseconds: 100)
        #expect(overdue.map(ObjectIdentifier.init) == [ObjectIdentifier(early)])
        #expect(next == 300)
        #expect(state.isSweeping)
        // A call whose message came at once: registered and ended between two looks.
        let startsAnother = state.awaitCallMessage(key: 4, control: arrived, deadlineNanoseconds: 600)
        #expect(!startsAnother)
        state.callMessageWaitEnded(key: 4)
        (overdue, next) = state.takeOverdueCalls(nowNanoseconds: 400)
        #expect(overdue.map(ObjectIdentifier.init) == [ObjectIdentifier(late)])
        #expect(next == 600, "no call waits, but one was registered less than a timeout ago")
        #expect(state.isSweeping)
        (overdue, next) = state.takeOverdueCalls(nowNanoseconds: 600)
        #expect(overdue.isEmpty)
        #expect(next == nil)
        #expect(!state.isSweeping)
        let restarts = state.awaitCallMessage(key: 5, control: early, deadlineNanoseconds: 900)
        #expect(restarts, "a new sweeper once the last one ended")
    }

    @Test func budgetAdmitsWhatFitsAndCountsRefusals() {
        var state = RPCSessionLoadState(maxConcurrentCalls: 1, maxIncomingMessageBytes: 100)
        let admitted = [60, 41, 40].map { state.reserveIncoming($0) }
        #expect(admitted == [true, false, true])
        state.releaseIncoming(60)
        #expect(state.incomingMessageBytes == 40)
        #expect(state.peakIncomingMessageBytes == 100)
        #expect(state.refusedMessages == 1)
    }
}
