import Synchronization

/// Whether a call's deadline has passed, shared between the timer and the call.
final class RPCDeadlineTimer: Sendable {
    private let expired = Atomic<Bool>(false)

    func expire() { expired.store(true, ordering: .releasing) }

    var hasExpired: Bool { expired.load(ordering: .acquiring) }
}
