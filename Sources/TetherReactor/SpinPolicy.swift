/// How long the event loop polls the ring before it sleeps, adapted to the gaps it meets and to
/// the CPU it gets.
///
/// Polling answers a peer that replies within the poll for a few cheap `io_uring_enter` calls;
/// sleeping costs a wake-up and a context switch on each side, which matters most when many
/// callers leave gaps shorter than the poll (perf/README.md has the figures). But a poll that
/// finds nothing only burns a core, and a poll on a CPU the peer needs delays the peer by as
/// long as it lasts. So:
/// - poll up to the maximum while polls succeed; when a poll fails and the sleep after it ends
///   soon enough that a longer poll would have caught the work, poll longer next time (at least a
///   sixteenth of the maximum);
/// - when the sleep is long (idle, sparse traffic), halve the poll, and below a sixteenth of the
///   maximum stop polling until short sleeps come back: an idle reactor costs no CPU;
/// - on a process allowed one CPU (pinned, or a container with a one-CPU cpuset) never poll:
///   whatever the reactor waits for needs that CPU. A CPU quota (`docker --cpus=1`) is not an
///   affinity and is not seen here.
struct SpinPolicy: Sendable, Equatable {
    let maxNanoseconds: UInt64
    var minNanoseconds: UInt64 { maxNanoseconds / 16 }
    /// How long the next poll lasts; 0 sleeps at once.
    private(set) var nanoseconds: UInt64

    /// - Parameter processors: the CPUs this process may run on (0: unknown); with one, polling
    ///   is off.
    init(maxNanoseconds: UInt64, processors: Int = 0) {
        self.maxNanoseconds = processors == 1 ? 0 : maxNanoseconds
        self.nanoseconds = self.maxNanoseconds
    }

    /// The poll found nothing, and the sleep that followed lasted `sleptNanoseconds`.
    mutating func slept(_ sleptNanoseconds: UInt64) {
        guard maxNanoseconds > 0 else { return }
        let gap = nanoseconds.addingReportingOverflow(sleptNanoseconds)
        if !gap.overflow, gap.partialValue <= maxNanoseconds {
            let doubled = gap.partialValue.multipliedReportingOverflow(by: 2)
            nanoseconds = max(
                minNanoseconds, doubled.overflow ? maxNanoseconds : min(maxNanoseconds, doubled.partialValue))
        } else {
            let halved = nanoseconds / 2
            nanoseconds = halved < minNanoseconds ? 0 : halved
        }
    }
}
