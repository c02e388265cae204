/// What a reactor has done since it started; read with ``Reactor/counters()``.
public struct ReactorCounters: Sendable, Hashable, CustomStringConvertible {
    /// SQEs handed to the kernel.
    public var submissions: UInt64 = 0
    /// CQEs taken from the completion queue.
    public var completions: UInt64 = 0
    /// `io_uring_enter` system calls (submit and/or wait).
    public var enterCalls: UInt64 = 0
    /// Loop iterations (each runs jobs, submits and reaps).
    public var loopIterations: UInt64 = 0
    /// Times the loop slept in the kernel waiting for a completion (after its poll found nothing).
    public var sleeps: UInt64 = 0
    /// Jobs (task steps) run on the reactor thread.
    public var jobsRun: UInt64 = 0
    /// Wake-ups caused by work enqueued from other threads.
    public var crossThreadWakeups: UInt64 = 0
    /// Bytes received by recv/read completions.
    public var bytesIn: UInt64 = 0
    /// Bytes sent by send/sendmsg/write completions.
    public var bytesOut: UInt64 = 0
    /// Times a receive found the provided-buffer ring empty (`ENOBUFS`) and had to wait.
    public var bufferRingExhaustions: UInt64 = 0
    /// Receives that went into memory of their own because the provided-buffer ring was empty.
    public var fallbackReceives: UInt64 = 0
    /// Times the submission queue was full and had to be flushed before preparing an entry.
    public var submissionQueueFull: UInt64 = 0
    /// Times a listener ran out of descriptors or memory to accept with (`EMFILE`, `ENFILE`,
    /// `ENOBUFS`, `ENOMEM`). Counted once per episode: from the first such error to the next
    /// accepted connection, however often the listener retried in between.
    public var acceptResourceExhaustions: UInt64 = 0
    /// Operations currently in flight.
    public var operationsInFlight: Int = 0
    /// Provided buffers currently lent to users (not yet back in the ring).
    public var buffersLent: Int = 0

    public init() {}

    public var description: String {
        "submissions=\(submissions) completions=\(completions) enters=\(enterCalls) "
            + "iterations=\(loopIterations) sleeps=\(sleeps) jobs=\(jobsRun) wakeups=\(crossThreadWakeups) "
            + "in=\(bytesIn)B out=\(bytesOut)B ringEmpty=\(bufferRingExhaustions) fallback=\(fallbackReceives) "
            + "sqFull=\(submissionQueueFull) acceptExhausted=\(acceptResourceExhaustions) inFlight=\(operationsInFlight) lent=\(buffersLent)"
    }
}
