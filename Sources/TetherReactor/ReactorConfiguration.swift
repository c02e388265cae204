/// Limits and sizes of one reactor. Every queue the reactor keeps is bounded by one of these.
public struct ReactorConfiguration: Sendable, Hashable {
    /// Submission queue entries (the completion queue is twice as large). A full queue is flushed
    /// to the kernel and the submission retried, so this bounds batching, not concurrency.
    public var ringEntries: UInt32 = 256
    /// Operations that may be in flight at once: each holds one slot of preallocated state.
    /// Exceeding it fails the new operation with ``ReactorError/Code/tooManyOperations``.
    public var maxInFlightOperations: Int = 4096
    /// Buffers in the provided-buffer ring shared by every receive on this reactor (power of two).
    public var receiveBufferCount: Int = 64
    /// Size of each provided buffer; one completion delivers at most this many bytes.
    public var receiveBufferBytes: Int = 64 * 1024
    /// A receiving handle stops pulling data from the kernel once it holds this many undelivered
    /// buffers, so one slow reader cannot take every buffer from the others.
    public var maxQueuedBuffersPerHandle: Int = 16
    /// Accepted connections a listener queues before it stops accepting until the user catches up.
    public var acceptQueueLimit: Int = 256
    /// Buffers sent by one `sendmsg`/`writev`; longer lists are sent in several calls.
    public var maxIovecsPerSend: Int = 32
    /// Jobs run per loop iteration before the loop looks at the ring again, so a task that keeps
    /// yielding cannot starve I/O.
    public var maxJobsPerIteration: Int = 1024
    /// The longest the loop keeps polling the ring (entering the kernel without sleeping) before
    /// it sleeps waiting for a completion. A peer that answers within the poll costs a few cheap
    /// syscalls instead of a sleep and a wake-up (a context switch on each side). The loop adapts
    /// the poll up to this: longer while sleeps turn out short, shorter while the reactor is idle
    /// and none at all once it is idle for long; and never in a process allowed only one CPU
    /// (pinned, or a container with a one-CPU cpuset; a CPU quota is not seen), where the poll
    /// would only delay the peer. 0 sleeps at once.
    public var spinBeforeSleepNanoseconds: UInt64 = 100_000
    /// Name of the reactor thread (visible in `top -H`, `perf` and `/proc/<pid>/task/*/comm`).
    public var threadName: String = "tether-reactor"
    /// For tests only: makes operations fail or fall short as the kernel could (see
    /// `FaultInjector`). Nil, the default, injects nothing.
    package var faultInjector: FaultInjector?

    public init() {}
}
