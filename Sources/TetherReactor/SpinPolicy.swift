/// How long the event loop polls the ring before it sleeps, adapted to the gaps it meets.
///
/// Polling answers a peer that replies within the poll for a few cheap `io_uring_enter` calls;
/// sleeping costs a wake-up and a context switch on each side, which matters most when many
/// callers leave gaps shorter than the poll (perf/README.md has the figures). But a
/// poll that never finds anything only burns a core. So: poll up to the maximum while polls
/// succeed; when a poll fails and the sleep after it ends soon enough that a longer poll would
/// have caught the work, poll longer next time; when the sleep is long (idle, sparse traffic),
/// halve the poll, down to a sixteenth of the maximum.
struct SpinPolicy: Sendable, Equatable {
    let maxNanoseconds: UInt64
    var minNanoseconds: UInt64 { maxNanoseconds / 16 }
    /// How long the next poll lasts.
    private(set) var nanoseconds: UInt64

    init(maxNanoseconds: UInt64) {
        self.maxNanoseconds = maxNanoseconds
        self.nanoseconds = maxNanoseconds
    }

    /// The poll found nothing, and the sleep that followed lasted `sleptNanoseconds`.
    mutating func slept(_ sleptNanoseconds: UInt64) {
        let gap = nanoseconds.addingReportingOverflow(sleptNanoseconds)
        if !gap.overflow, gap.partialValue <= maxNanoseconds {
            let doubled = gap.partialValue.multipliedReportingOverflow(by: 2)
            nanoseconds = doubled.overflow ? maxNanoseconds : min(maxNanoseconds, doubled.partialValue)
        } else {
            nanoseconds = max(minNanoseconds, nanoseconds / 2)
        }
    }
}
