import TetherReactor

/// Checks `condition` every 5 ms on `reactor`, at most `attempts` times (10 s by default): true
/// once it holds. A bound on every wait in a test, so that a bug fails the test instead of hanging
/// it; the order of events comes from the other side's progress, not from the interval.
public func eventually(
    on reactor: Reactor, attempts: Int = 2_000, _ condition: @Sendable () async -> Bool
) async throws -> Bool {
    for _ in 0..<attempts {
        if await condition() { return true }
        try await reactor.sleep(for: .milliseconds(5))
    }
    return await condition()
}
