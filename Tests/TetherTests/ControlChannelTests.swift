import Testing
import TetherMux
import TetherReactor
import TetherTesting

@testable import Tether

/// The host's side of the control stream over a real session: a ping is answered, bounded by
/// its timeout, or given up by its caller, and no ping is left waiting either way.
@Suite(.timeLimit(.minutes(1)))
struct ControlChannelTests {
    /// A control channel on a fresh stream, with the plugin's end of it.
    private func withControl(
        _ body: @Sendable (ControlChannel, MuxStream, Reactor) async throws -> Void
    ) async throws {
        try await withMuxSessionPair { client, server, reactor in
            let stream = try await client.openStream()
            try await stream.write([])
            let pluginSide = try await server.acceptStream()
            try await body(ControlChannel(stream: stream, reactor: reactor), pluginSide, reactor)
        }
    }

    @Test func aPingIsAnsweredByAPluginThatServesItsControlStream() async throws {
        try await withControl { control, pluginSide, reactor in
            let answering = Task(executorPreference: reactor) { await ControlRecord.answerPings(on: pluginSide) }
            for _ in 0..<3 {
                let outcome = try await control.ping(within: .seconds(30), on: reactor)
                #expect(outcome == .answered)
            }
            #expect(control.pingsInFlight == 0)
            answering.cancel()
        }
    }

    /// The plugin's end reads nothing: the ping times out, and its entry is gone.
    @Test func aPingThatIsNeverAnsweredTimesOut() async throws {
        try await withControl { control, _, reactor in
            let outcome = try await control.ping(within: .milliseconds(20), on: reactor)
            #expect(outcome == .timedOut)
            #expect(control.pingsInFlight == 0)
        }
    }

    /// Cancelling the caller ends its wait with `CancellationError`, however long the timeout.
    @Test func aCancelledPingEndsAtOnce() async throws {
        try await withControl { control, _, reactor in
            let waiting = Task(executorPreference: reactor) {
                try await control.ping(within: .seconds(3600), on: reactor)
            }
            while control.pingsInFlight == 0 { await Task.yield() }
            waiting.cancel()
            await #expect(throws: CancellationError.self) { try await waiting.value }
            #expect(control.pingsInFlight == 0)
        }
    }
}
