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
