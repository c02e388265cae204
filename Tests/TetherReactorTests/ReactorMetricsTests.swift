import CoreMetrics
import MetricsTestKit
import Testing
import TetherTesting

@testable import TetherReactor

extension ReactorSuite {
    /// The reactor's counters reach the metrics factory it was started with: while it runs, at
    /// most a second late, and in full when it stops.
    @Suite(.timeLimit(.minutes(1))) struct ReactorMetricsTests {
        @Test func countersArePublishedWhileRunningAndAtShutdown() async throws {
            let metrics = TestMetrics()
            var configuration = ReactorConfiguration()
            configuration.threadName = "metrics-test"
            let metricsFactory = metrics
            let dimensions = try await withReactor(configuration: configuration, metricsFactory: metricsFactory) {
                reactor in
                // The dimension is the thread name and a serial number.
                let reactorName = try #require(
                    metricsFactory.counters.first { $0.label == "tether_reactor_bytes_sent" }?.dimensions.first?.1)
                #expect(reactorName.hasPrefix("metrics-test-"))
                let dimensions = [("reactor", reactorName)]
                let (a, b) = try StreamSocket.makePair(on: reactor)
                try await a.send(BufferSlice(copying: [UInt8](repeating: 7, count: 1_000)))
                var received = 0
                while received < 1_000, let slice = try await b.receive() { received += slice.count }
                // The loop publishes as it goes to sleep, here between the polls' timers.
                #expect(
                    try await eventually(on: reactor) {
                        metrics.counterTotal(label: "tether_reactor_bytes_sent", dimensions: dimensions) == 1_000
                    })
                // Just published: the next periodic publication is a second away, so these bytes
                // reach the metrics only through the publication at shutdown.
                try await a.send(BufferSlice(copying: [UInt8](repeating: 7, count: 500)))
                received = 0
                while received < 500, let slice = try await b.receive() { received += slice.count }
                try await a.close()
                try await b.close()
                return dimensions
            }
            #expect(metrics.counterTotal(label: "tether_reactor_bytes_sent", dimensions: dimensions) == 1_500)
            #expect(metrics.counterTotal(label: "tether_reactor_bytes_received", dimensions: dimensions) == 1_500)
            #expect(metrics.counterTotal(label: "tether_reactor_completions", dimensions: dimensions) > 0)
            #expect(metrics.counterTotal(label: "tether_reactor_sleeps", dimensions: dimensions) > 0)
            #expect(metrics.counterTotal(label: "tether_reactor_fallback_receives", dimensions: dimensions) == 0)
            #expect(try metrics.expectGauge("tether_reactor_operations_in_flight", dimensions).lastValue == 0)
            #expect(try metrics.expectGauge("tether_reactor_buffers_lent", dimensions).lastValue == 0)
        }

        /// Without a backend the reactor makes no metric objects: the loop only checks for none.
        @Test func theNoOpFactoryMakesNoMetrics() async throws {
            try await withReactor(metricsFactory: NOOPMetricsHandler.instance) { reactor in
                #expect(reactor.metrics == nil)
            }
        }
    }
}
