import Foundation
import PropertyBased
import Testing

@testable import TetherYamux

/// How many random scenarios each property runs: a default that keeps the debug test run short,
/// or `TETHER_PROPERTY_ITERATIONS` for long runs (see docs/property-tests.md).
enum PropertyIterations {
    static func count(default defaultCount: Int) -> Int {
        guard let text = ProcessInfo.processInfo.environment["TETHER_PROPERTY_ITERATIONS"], let count = Int(text),
            count > 0
        else {
            return defaultCount
        }
        return count
    }
}

/// Two sessions driven by random operations on both sides, over a connection that splits and
/// delays (never reorders) the bytes, checked against a model (``ProtocolRun``).
@Suite("Protocol properties")
struct ProtocolPropertyTests {
    @Test("random operations keep every stream's bytes, windows and state consistent")
    func randomOperations() async {
        await propertyCheck(count: PropertyIterations.count(default: 100), input: ProtocolScenario.generator()) {
            scenario in
            if let violation = ProtocolRun.check(scenario) { Issue.record("\(violation)") }
        }
    }

    /// The property is only as good as the states its scenarios reach: over a fixed set of
    /// generated scenarios, streams complete, finish, reset, wait for credit, for outbound room
    /// and for ACK slots, pings are answered and GoAways arrive.
    @Test("the generated scenarios reach the states the property is about")
    func scenariosCoverTheProtocol() throws {
        var rng = Xoshiro(seed: (1, 2, 3, 4))
        let generator = ProtocolScenario.generator()
        var total = ProtocolRun.Coverage()
        for _ in 0..<60 {
            var run = try ProtocolRun(generator.run(using: &rng))
            #expect(run.run() == nil)
            let coverage = run.coverage
            total.streamsOpened += coverage.streamsOpened
            total.streamsCompleted += coverage.streamsCompleted
            total.streamsFinished += coverage.streamsFinished
            total.streamsReset += coverage.streamsReset
            total.windowWaits += coverage.windowWaits
            total.outboundWaits += coverage.outboundWaits
            total.openWaits += coverage.openWaits
            total.pingsAnswered += coverage.pingsAnswered
            total.goAways += coverage.goAways
            total.bytesDelivered += coverage.bytesDelivered
        }
        #expect(total.streamsCompleted > 20, "\(total)")
        #expect(total.streamsFinished > 10, "\(total)")
        #expect(total.streamsReset > 5, "\(total)")
        #expect(total.windowWaits > 5, "\(total)")
        #expect(total.outboundWaits > 5, "\(total)")
        #expect(total.openWaits > 0, "\(total)")
        #expect(total.pingsAnswered > 5, "\(total)")
        #expect(total.goAways > 0, "\(total)")
        #expect(total.bytesDelivered > 1_000_000, "\(total)")
    }
}
