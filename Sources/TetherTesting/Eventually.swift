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

/// Checks `condition` every 5 ms with `Task.sleep`, at most `attempts` times (10 s by default):
/// true once it holds. For waits with no reactor to sleep on (none started yet, or it has shut
/// down), and for those whose reactor must not run one more operation (a test at its limit of
/// operations in flight, or counting them).
public func eventually(attempts: Int = 2_000, _ condition: @Sendable () async -> Bool) async throws -> Bool {
    for _ in 0..<attempts {
        if await condition() { return true }
        try await Task.sleep(for: .milliseconds(5))
    }
    return await condition()
}
