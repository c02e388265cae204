import Testing

@testable import TetherReactor

/// The poll-before-sleep policy as a value: no ring, no clock.
@Suite struct SpinPolicyTests {
    @Test func startsAtTheMaximumAndGrowsBackAfterShortSleeps() {
        var policy = SpinPolicy(maxNanoseconds: 100_000)
        #expect(policy.nanoseconds == 100_000)
        // Idle: every sleep is long, the poll halves down to a sixteenth and stays there.
        for _ in 0..<10 { policy.slept(5_000_000) }
        #expect(policy.nanoseconds == 6_250)
        // Traffic with ~20 µs gaps: the poll (6.25 µs) missed by little, so it grows to cover
        // twice the gap it saw, then stops at the maximum.
        policy.slept(14_000)
        #expect(policy.nanoseconds == 40_500)
        policy.slept(30_000)
        #expect(policy.nanoseconds == 100_000)
        // A gap just past the maximum is idleness, not a miss: the poll halves.
        policy.slept(1)
        #expect(policy.nanoseconds == 50_000)
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
