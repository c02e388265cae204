import CoreMetrics

extension MetricsFactory {
    /// True for swift-metrics' no-op factory (no backend bootstrapped): the reactor, the sessions
    /// and the plugin runtime then make no metric objects at all.
    package var isNoOp: Bool { self is NOOPMetricsHandler }
}

/// Counters a component keeps as plain integers in `Source` (``ReactorCounters``, a session's
/// counters), published as swift-metrics counters: each publication adds what each value gained
/// since the previous one, so the hot path only increments integers.
package struct CounterPublication<Source> {
    private let counters: [(metric: Counter, value: KeyPath<Source, UInt64>)]
    /// The values as last published.
    private var published: Source

    /// One counter per `(label, value)` pair, with `dimensions`; `initial` is what counts as
    /// already published (the values at start).
    package init(
        _ labels: [(label: String, value: KeyPath<Source, UInt64>)], dimensions: [(String, String)],
        factory: any MetricsFactory, initial: Source
    ) {
        counters = labels.map { (Counter(label: $0.label, dimensions: dimensions, factory: factory), $0.value) }
        published = initial
    }

    /// Adds to each counter what its value gained since the last publication.
    package mutating func publish(_ source: Source) {
        for (metric, value) in counters {
            let gained = source[keyPath: value] &- published[keyPath: value]
            if gained > 0 { metric.increment(by: Int64(truncatingIfNeeded: gained)) }
        }
        published = source
    }
}
