import MetricsTestKit
import Testing
import TetherReactor
import TetherTesting

@testable import TetherMux

/// A session's counters reach the metrics factory it was made with: from its timer while it
/// runs, and in full with its end.
@Suite(.timeLimit(.minutes(1))) struct SessionMetricsTests {
    private let client = [("role", "client")]
    private let server = [("role", "server")]

    @Test func streamsAndBytesArePublishedAndTheEndIsCounted() async throws {
        let metrics = TestMetrics()
        try await withMuxSessionPair(metricsFactory: metrics) { client, server, reactor in
            let serverSide = Task(executorPreference: reactor) {
                for _ in 0..<10 {
                    let stream = try await server.acceptStream()
                    while try await stream.read() != nil {}
                    await stream.close()
                }
            }
            for _ in 0..<10 {
                let stream = try await client.openStream()
                try await stream.writeAndClose([BufferSlice(copying: [UInt8](repeating: 1, count: 1_000))])
            }
            try await serverSide.value
            #expect(
                try await eventually(on: reactor) {
                    metrics.counterTotal(label: "tether_mux_payload_bytes_received") == 10_000
                })
        }
        #expect(metrics.counterTotal(label: "tether_mux_streams_opened", dimensions: client) == 10)
        #expect(metrics.counterTotal(label: "tether_mux_streams_accepted", dimensions: server) == 10)
        #expect(metrics.counterTotal(label: "tether_mux_payload_bytes_sent", dimensions: client) == 10_000)
        #expect(metrics.counterTotal(label: "tether_mux_payload_bytes_received", dimensions: server) == 10_000)
        #expect(metrics.counterTotal(label: "tether_mux_frames_sent", dimensions: client) >= 20)
        #expect(metrics.counterTotal(label: "tether_mux_bytes_copied") == 0)
        // Both sessions ended: no live session or stream is left on the meters.
        #expect(try metrics.expectMeter("tether_mux_sessions_active", client).lastValue == 0)
        #expect(try metrics.expectMeter("tether_mux_sessions_active", server).lastValue == 0)
        #expect(try metrics.expectMeter("tether_mux_streams_active", client).lastValue ?? 0 == 0)
        #expect(try metrics.expectMeter("tether_mux_streams_active", server).lastValue ?? 0 == 0)
        // The client closed first; the server ended by its own close or by the client's.
        #expect(
            metrics.counterTotal(
                label: "tether_mux_session_ends", dimensions: client + [("reason", "sessionClosed")]) == 1)
        #expect(metrics.counterTotal(label: "tether_mux_session_ends", dimensions: server) == 1)
    }

    /// A writer with more to send than the peer's window lets waits for the reader: a window
    /// stall, counted by the session and published.
    @Test func aWriterWaitingForThePeersWindowIsAWindowStall() async throws {
        let metrics = TestMetrics()
        var fixedWindows = MuxConfiguration()
        fixedWindows.windowAutoTuning = false
        let bytes = 2 * Int(fixedWindows.streamWindowBytes)
        try await withMuxSessionPair(client: fixedWindows, server: fixedWindows, metricsFactory: metrics) {
            client, server, reactor in
            let stream = try await client.openStream()
            let writing = Task(executorPreference: reactor) {
                try await stream.writeAndClose([ByteStreamPattern(seed: 5).slice(from: 0, count: bytes)])
            }
            let accepted = try await server.acceptStream()
            #expect(try await eventually(on: reactor) { await client.statistics.windowStalls >= 1 })
            var received = 0
            while let slice = try await accepted.read() { received += slice.count }
            try await writing.value
            #expect(received == bytes)
            #expect(await client.statistics.outboundStalls == 0)
        }
        #expect(metrics.counterTotal(label: "tether_mux_window_stalls", dimensions: client) >= 1)
        #expect(metrics.counterTotal(label: "tether_mux_outbound_stalls", dimensions: client) == 0)
    }

    /// The stream meter follows the session's stream count at each publication and drops the
    /// session's part when it ends; the session meter counts it while it lives. No clock: the
    /// publications are called directly.
    @Test func theMetersFollowTheStreamCountAndTheEnd() throws {
        let metrics = TestMetrics()
        let session = try #require(SessionMetrics(factory: metrics, role: .client))
        #expect(try metrics.expectMeter("tether_mux_sessions_active", client).lastValue == 1)
        session.publishIfDue(MuxCounters(), streamCount: 3, nowNanoseconds: 0)
        #expect(try metrics.expectMeter("tether_mux_streams_active", client).lastValue == 3)
        // Within the interval nothing is published.
        session.publishIfDue(MuxCounters(), streamCount: 5, nowNanoseconds: 1)
        #expect(try metrics.expectMeter("tether_mux_streams_active", client).lastValue == 3)
        session.publishIfDue(MuxCounters(), streamCount: 1, nowNanoseconds: SessionMetrics.intervalNanoseconds)
        #expect(try metrics.expectMeter("tether_mux_streams_active", client).lastValue == 1)
        var counters = MuxCounters()
        counters.windowStalls = 2
        session.ended(counters, reason: nil)
        #expect(try metrics.expectMeter("tether_mux_streams_active", client).lastValue == 0)
        #expect(try metrics.expectMeter("tether_mux_sessions_active", client).lastValue == 0)
        #expect(metrics.counterTotal(label: "tether_mux_window_stalls", dimensions: client) == 2)
        #expect(
            metrics.counterTotal(label: "tether_mux_session_ends", dimensions: client + [("reason", "sessionClosed")])
                == 1)
    }
}
