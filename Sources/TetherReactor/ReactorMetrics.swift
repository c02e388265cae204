import CoreMetrics
import Synchronization

/// A reactor's counters as swift-metrics metrics (`tether_reactor_*`, dimension `reactor`: the
/// configuration's thread name and a serial number, `tether-reactor-1`). docs/guide.md lists them.
///
/// The metric objects are made once, when the reactor starts, and only when a backend is there
/// (a factory other than swift-metrics' no-op one): without one the loop pays a nil check per
/// sleep. The loop counts in its plain ``ReactorCounters`` as always; the changes since the last
/// publication go to the metrics at most once a second — when the loop is about to sleep, or
/// every 4,096 turns of a loop that never sleeps — and once more when the loop ends.
final class ReactorMetrics {
    /// Reactors that made metrics so far, for their `reactor` dimension.
    private static let started = Atomic<Int>(0)
    /// How often, at most, the loop publishes.
    static let intervalNanoseconds: Int64 = 1_000_000_000

    private var counters: CounterPublication<ReactorCounters>
    private let operationsInFlight: Gauge
    private let buffersLent: Gauge
    /// When the loop publishes next.
    private(set) var nextPublication: ContinuousClock.Instant

    /// The metrics of the reactor named `name`, or nil when `factory` is the no-op factory.
    init?(factory: any MetricsFactory, name: String) {
        guard !factory.isNoOp else { return nil }
        // Reactors share a thread name by default: a serial number tells their gauges apart.
        let serial = Self.started.add(1, ordering: .relaxed).newValue
        let dimensions = [("reactor", "\(name)-\(serial)")]
        counters = CounterPublication(
            [
                ("tether_reactor_bytes_received", \.bytesIn), ("tether_reactor_bytes_sent", \.bytesOut),
                ("tether_reactor_completions", \.completions), ("tether_reactor_sleeps", \.sleeps),
                ("tether_reactor_cross_thread_wakeups", \.crossThreadWakeups),
                ("tether_reactor_fallback_receives", \.fallbackReceives),
                ("tether_reactor_buffer_ring_exhaustions", \.bufferRingExhaustions),
                ("tether_reactor_submission_queue_full", \.submissionQueueFull),
                ("tether_reactor_accept_exhaustions", \.acceptResourceExhaustions),
            ], dimensions: dimensions, factory: factory, initial: ReactorCounters())
        operationsInFlight = Gauge(
            label: "tether_reactor_operations_in_flight", dimensions: dimensions, factory: factory)
        buffersLent = Gauge(label: "tether_reactor_buffers_lent", dimensions: dimensions, factory: factory)
        nextPublication = ContinuousClock.now
    }

    /// Adds what each counter gained since the last publication and records the gauges.
    func publish(_ counters: ReactorCounters, at now: ContinuousClock.Instant) {
        self.counters.publish(counters)
        operationsInFlight.record(counters.operationsInFlight)
        buffersLent.record(counters.buffersLent)
        nextPublication = now.advanced(by: .nanoseconds(Self.intervalNanoseconds))
    }
}

// `reactor` is `unowned(unsafe)`: the loop runs on the reactor's thread, which the reactor
// outlives (`shutdown` joins it).
extension EventLoop {
    /// Turns of a loop that never sleeps between two looks at the clock for a publication.
    static var metricsTurnMask: UInt64 { 4_095 }

    /// Publishes the counters if a publication is due at `now` (the loop is about to sleep and
    /// has read the clock already).
    func publishMetrics(ifDueAt now: ContinuousClock.Instant) {
        guard let metrics = unsafe reactor.metrics, now >= metrics.nextPublication else { return }
        metrics.publish(snapshotCounters(), at: now)
    }

    /// Publishes the counters if a publication is due: for a loop that has not slept for
    /// ``metricsTurnMask`` + 1 turns.
    func publishMetricsIfDue() {
        guard unsafe reactor.metrics != nil else { return }
        publishMetrics(ifDueAt: .now)
    }

    /// Publishes what the loop counted since the last publication, as it ends.
    func publishFinalMetrics() {
        unsafe reactor.metrics?.publish(snapshotCounters(), at: .now)
    }
}
