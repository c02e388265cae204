import Foundation
import RPCFixtures
import Testing
import TetherMux
import TetherReactor
import TetherTesting

@testable import TetherRPC

/// A KeyValue store served with `configuration` on the server end of a real session pair; the
/// test plays the caller on the client end.
private func withServer(
    _ configuration: RPCConfiguration, client: MuxConfiguration = MuxConfiguration(),
    server serverMux: MuxConfiguration = MuxConfiguration(),
    _ body: @Sendable (_ caller: MuxSession, _ served: MuxSession, RPCServer, Reactor) async throws -> Void
) async throws {
    try await withMuxSessionPair(client: client, server: serverMux) { caller, served, reactor in
        let server = RPCServer(configuration: configuration)
        server.register(KeyValueService(Store()))
        let serving = Task(executorPreference: reactor) { await server.serve(served) }
        defer { serving.cancel() }
        try await body(caller, served, server, reactor)
    }
}

/// Server limits per session: concurrent calls.
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
            #expect(load.peakActiveCalls <= 4)
            #expect(load.peakActiveCalls > 1, "calls ran side by side up to the limit")
        }
    }
}

/// The server's bookkeeping per session, without I/O.
@Suite struct RPCSessionLoadStateTests {
    @Test func slotsGoToWaitersInOrderAndRoomIsAnnouncedWhenOneIsFree() {
        var state = RPCSessionLoadState(maxConcurrentCalls: 2)
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
}
