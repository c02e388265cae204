import Testing

@testable import TetherReactor

/// The event loop's life as a value: it only moves forward, one phase at a time.
@Suite struct LoopPhaseTests {
    @Test func movesForwardThroughEveryPhase() {
        var phase = LoopPhase.running
        #expect(phase.wakeUpInFlight)
        for next in [LoopPhase.draining, .releasingWakeUp, .wakeUpReleased, .exited] {
            phase.advance(to: next)
            #expect(phase == next)
        }
        #expect(!phase.wakeUpInFlight)
    }

    /// The wake-up read is in the kernel until its cancellation has completed.
    @Test func theWakeUpReadIsInFlightUntilReleased() {
        let inFlight = LoopPhase.allCases.filter(\.wakeUpInFlight)
        #expect(inFlight == [.running, .draining, .releasingWakeUp])
    }

    /// Of every pair of phases, only each one and the next are a legal move.
    @Test func onlyTheNextPhaseFollows() {
        let order = LoopPhase.allCases
        #expect(order == [.running, .draining, .releasingWakeUp, .wakeUpReleased, .exited])
        for (index, phase) in order.enumerated() {
            for (otherIndex, other) in order.enumerated() {
                #expect(phase.isFollowed(by: other) == (otherIndex == index + 1), "\(phase) → \(other)")
            }
        }
    }

    @Test func skippingAPhaseTraps() async {
        await #expect(processExitsWith: .failure) {
            var phase = LoopPhase.running
            phase.advance(to: .exited)
        }
    }

    @Test func goingBackTraps() async {
        await #expect(processExitsWith: .failure) {
            var phase = LoopPhase.draining
            phase.advance(to: .running)
        }
    }
}
