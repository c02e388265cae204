import CoreMetrics
import TetherReactor

/// A session's counters as swift-metrics metrics (`tether_mux_*`, dimension `role`: `client` or
/// `server`). docs/guide.md lists them.
///
/// The metric objects are made once per session, and only when a backend is there (a factory
/// other than swift-metrics' no-op one). The session counts in its plain ``MuxCounters`` as
/// always; the changes since the last publication go to the metrics from the session's timer, at
/// most once a second, and once more when the session has ended. Sessions of one role share their
/// metrics: counters add up, and the meters of live sessions and streams go up and down by each
/// session's part.
final class SessionMetrics {
    /// How often, at most, the session publishes.
    static let intervalNanoseconds: UInt64 = 1_000_000_000

    private let factory: any MetricsFactory
    private let dimensions: [(String, String)]
    private var counters: CounterPublication<MuxCounters>
    private let streamsActive: Meter
    private let sessionsActive: Meter
    /// The stream count as last published.
    private var publishedStreamCount = 0
    /// When, on the session's clock, the session publishes next.
    private var nextPublicationNanoseconds: UInt64 = 0

    /// The metrics of a session in `role`, counted as live from now; nil when `factory` is the
    /// no-op factory.
    init?(factory: any MetricsFactory, role: MuxRole) {
        guard !factory.isNoOp else { return nil }
        self.factory = factory
        let dimensions = [("role", role == .client ? "client" : "server")]
        self.dimensions = dimensions
        counters = CounterPublication(
            [
                ("tether_mux_streams_opened", \.streamsOpened), ("tether_mux_streams_accepted", \.streamsAccepted),
                ("tether_mux_frames_sent", \.framesSent), ("tether_mux_payload_bytes_sent", \.payloadBytesSent),
                ("tether_mux_payload_bytes_received", \.payloadBytesReceived),
                ("tether_mux_bytes_copied", \.bytesCopied), ("tether_mux_window_stalls", \.windowStalls),
                ("tether_mux_outbound_stalls", \.outboundStalls),
            ], dimensions: dimensions, factory: factory, initial: MuxCounters())
        streamsActive = Meter(label: "tether_mux_streams_active", dimensions: dimensions, factory: factory)
        sessionsActive = Meter(label: "tether_mux_sessions_active", dimensions: dimensions, factory: factory)
        sessionsActive.increment()
    }

    /// Publishes if a second has passed since the last publication.
    func publishIfDue(_ counters: MuxCounters, streamCount: Int, nowNanoseconds: UInt64) {
        guard nowNanoseconds >= nextPublicationNanoseconds else { return }
        publish(counters, streamCount: streamCount)
        nextPublicationNanoseconds = nowNanoseconds + Self.intervalNanoseconds
    }

    /// Publishes the last changes of a session that has ended for `reason` (its failure, or
    /// `sessionClosed`), and takes it and its streams out of the live counts.
    func ended(_ counters: MuxCounters, reason: MuxError?) {
        publish(counters, streamCount: 0)
        sessionsActive.decrement()
        let reasonName = (reason?.code ?? .sessionClosed).name
        Counter(label: "tether_mux_session_ends", dimensions: dimensions + [("reason", reasonName)], factory: factory)
            .increment()
    }

    /// Adds what each counter gained since the last publication; moves the stream meter by the
    /// change in the session's stream count.
    private func publish(_ counters: MuxCounters, streamCount: Int) {
        self.counters.publish(counters)
        let change = streamCount - publishedStreamCount
        if change > 0 { streamsActive.increment(by: Double(change)) }
        if change < 0 { streamsActive.decrement(by: Double(-change)) }
        publishedStreamCount = streamCount
    }
}

extension MuxSession {
    /// A writer is about to wait for `reason`: counts the stall.
    func noteWriterWaits(for reason: SendWait) {
        switch reason {
        case .outbound: counters.outboundStalls += 1
        case .window: counters.windowStalls += 1
        }
    }

    /// From the session's timer: publishes the counters if a second has passed.
    func publishMetricsIfDue() {
        metrics?.publishIfDue(counters, streamCount: streams.count, nowNanoseconds: nowNanoseconds)
    }

    /// Once the session has ended and its socket is closed: publishes the last changes and the end.
    func publishFinalMetrics() {
        metrics?.ended(counters, reason: failure)
    }
}
