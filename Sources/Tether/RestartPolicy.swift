/// When a supervised plugin (``SupervisedPlugin``) that exited on its own is started again, and
/// when the supervisor gives up.
///
/// The n-th restart within ``window`` waits ``initialBackoff`` × ``multiplier``^(n−1), at most
/// ``maximumBackoff``, spread by ± ``jitter`` of itself so that plugins that crashed together do
/// not restart together. When ``maximumRestarts`` restarts have happened within the last
/// ``window``, the next exit is final: the supervisor gives up and says why. A failed restart
/// (the new process did not start) counts like any other.
public struct RestartPolicy: Sendable, Hashable {
    /// What a ``SupervisedPlugin/dispense(_:name:)`` made while the plugin is being restarted does.
    public enum WhileRestarting: Sendable, Hashable {
        /// Waits up to this long for the restarted plugin, then fails with `pluginRestarting`.
        case wait(Duration)
        /// Fails at once with `pluginRestarting`.
        case failFast
    }

    /// The wait before the first restart within a window.
    public var initialBackoff: Duration = .milliseconds(100)
    /// Each further restart within the window waits this many times longer.
    public var multiplier: Double = 2
    /// The longest wait between an exit and its restart.
    public var maximumBackoff: Duration = .seconds(30)
    /// The fraction (0…1) by which each wait is spread, up or down, at random.
    public var jitter: Double = 0.2
    /// How many restarts ``window`` may hold before the supervisor gives up.
    public var maximumRestarts: Int = 5
    /// The span over which restarts are counted.
    public var window: Duration = .seconds(60)
    /// What new clients do while the plugin is down.
    public var whileRestarting: WhileRestarting = .wait(.seconds(10))

    /// The defaults: 100 ms doubling to 30 s, ± 20 %, at most 5 restarts a minute, new clients
    /// waiting up to 10 s.
    public init() {}
}

/// The restarts a supervisor has made within its policy's window, and the wait before the next
/// one: pure, so that its arithmetic is tested without processes or clocks.
struct RestartSchedule: Sendable {
    let policy: RestartPolicy
    /// When each restart within the window was decided, oldest first.
    private(set) var recent: [ContinuousClock.Instant] = []

    init(policy: RestartPolicy) {
        precondition(policy.initialBackoff >= .zero && policy.maximumBackoff >= .zero, "backoffs are not negative")
        precondition(policy.multiplier >= 1, "the multiplier is at least 1")
        precondition((0...1).contains(policy.jitter), "the jitter is a fraction of 0…1")
        precondition(policy.maximumRestarts >= 0 && policy.window > .zero, "a budget of 0 or more in a window")
        self.policy = policy
    }

    /// The wait before the restart an exit at `now` calls for, counted as made; nil when the
    /// budget is spent (``RestartPolicy/maximumRestarts`` within the last window).
    mutating func nextRestart(at now: ContinuousClock.Instant, random: inout some RandomNumberGenerator)
        -> Duration?
    {
        recent.removeAll { now - $0 >= policy.window }
        guard recent.count < policy.maximumRestarts else { return nil }
        recent.append(now)
        var base = policy.initialBackoff.seconds
        for _ in 1..<recent.count where base < policy.maximumBackoff.seconds { base *= policy.multiplier }
        base = min(base, policy.maximumBackoff.seconds)
        let spread =
            policy.jitter == 0 ? 1 : Double.random(in: (1 - policy.jitter)...(1 + policy.jitter), using: &random)
        return .nanoseconds(Int64((base * spread * 1e9).rounded()))
    }

    /// How many restarts the current window holds.
    var restartsInWindow: Int { recent.count }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    fileprivate var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
