import Testing

@testable import TetherReactor

/// The poll-before-sleep policy as a value: no ring, no clock.
@Suite struct SpinPolicyTests {
    @Test func startsAtTheMaximumStopsWhenIdleAndGrowsBackAfterShortSleeps() {
        var policy = SpinPolicy(maxNanoseconds: 100_000)
        #expect(policy.nanoseconds == 100_000)
        // Idle: every sleep is long, the poll halves down to a sixteenth, then stops.
        for _ in 0..<4 { policy.slept(5_000_000) }
        #expect(policy.nanoseconds == 6_250)
        policy.slept(5_000_000)
        #expect(policy.nanoseconds == 0)
        policy.slept(5_000_000)
        #expect(policy.nanoseconds == 0)
        // Traffic with ~14 µs gaps: a poll would have caught them, so polling resumes at twice
        // the gap seen, and grows while it keeps missing by little, up to the maximum.
        policy.slept(14_000)
        #expect(policy.nanoseconds == 28_000)
        policy.slept(20_000)
        #expect(policy.nanoseconds == 96_000)
        policy.slept(1_000)
        #expect(policy.nanoseconds == 100_000)
        // A gap just past the maximum is idleness, not a miss: the poll halves.
        policy.slept(1)
        #expect(policy.nanoseconds == 50_000)
        // Resuming never starts below a sixteenth of the maximum.
        for _ in 0..<4 { policy.slept(5_000_000) }
        #expect(policy.nanoseconds == 0)
        policy.slept(100)
        #expect(policy.nanoseconds == 6_250)
    }

    @Test func oneCPUNeverPolls() {
        var pinned = SpinPolicy(maxNanoseconds: 100_000, processors: 1)
        #expect(pinned.nanoseconds == 0)
        pinned.slept(10)
        #expect(pinned.nanoseconds == 0)
        #expect(SpinPolicy(maxNanoseconds: 100_000, processors: 2).nanoseconds == 100_000)
        // An affinity that cannot be read keeps polling.
        #expect(SpinPolicy(maxNanoseconds: 100_000, processors: 0).nanoseconds == 100_000)
    }

    @Test func zeroNeverPollsAndHugeSleepsDoNotOverflow() {
        var none = SpinPolicy(maxNanoseconds: 0)
        none.slept(10)
        #expect(none.nanoseconds == 0)
        var policy = SpinPolicy(maxNanoseconds: UInt64.max)
        policy.slept(UInt64.max)
        #expect(policy.nanoseconds == UInt64.max / 2)
    }
}
