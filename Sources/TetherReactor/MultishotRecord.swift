/// The one operation a queue keeps in the kernel — a multishot recv or accept, or a single
/// buffer-selecting read — and the task waiting for it to end.
///
/// A multishot operation stays armed while its CQEs carry `IORING_CQE_F_MORE`; the first one
/// without it is its last (an error, `ENOBUFS`, a cancellation, end of stream), after which the
/// queue decides whether to arm it again. Shared by ``ReceiveQueue`` and ``AcceptQueue``; reactor
/// thread only.
@safe struct MultishotRecord {
    /// The armed operation's user data; nil while nothing is in the kernel.
    private(set) var userData: UInt64?
    /// A cancel was sent for the armed operation: its last CQE is coming.
    private(set) var cancelRequested = false
    /// The task in ``MultishotQueue/waitUntilDisarmed()``, resumed by the last CQE.
    private var disarmWaiter: UnsafeContinuation<Void, Never>?

    var isArmed: Bool { userData != nil }

    /// Starts `operation`, whose completions go to `target`. False when the loop cannot take it
    /// (shutting down, every slot in use): nothing is armed then.
    mutating func arm(_ operation: Operation, target: CompletionTarget, loop: EventLoop) -> Bool {
        cancelRequested = false
        userData = loop.start(operation, target: target)
        return userData != nil
    }

    /// Asks the kernel to end the armed operation: once per arming (a read-ahead limit, a pause),
    /// or `again` even if a cancel was sent (closing, which must not depend on an earlier request).
    mutating func cancel(loop: EventLoop, again: Bool = false) {
        guard let userData, again || !cancelRequested else { return }
        cancelRequested = true
        loop.cancel(userData)
    }

    /// Records one CQE of the armed operation. Returns true when it was the last (no
    /// `IORING_CQE_F_MORE`): the record is disarmed and a task waiting for that is resumed.
    mutating func completed(_ completion: Completion) -> Bool {
        guard !completion.hasMore else { return false }
        userData = nil
        cancelRequested = false
        if let waiter = unsafe disarmWaiter {
            unsafe disarmWaiter = nil
            unsafe waiter.resume()
        }
        return true
    }

    /// Keeps `continuation` until the armed operation's last CQE; resumes it at once if nothing
    /// is armed.
    mutating func parkUntilDisarmed(_ continuation: UnsafeContinuation<Void, Never>) {
        guard isArmed else { return unsafe continuation.resume() }
        precondition(unsafe disarmWaiter == nil, "two tasks wait for one queue to disarm")
        unsafe disarmWaiter = continuation
    }
}

/// A queue that keeps one operation in the kernel through a ``MultishotRecord``.
protocol MultishotQueue: AnyObject {
    var multishot: MultishotRecord { get set }
}

extension MultishotQueue {
    /// True while an operation of this queue is in the kernel.
    var isArmed: Bool { multishot.isArmed }

    /// Returns once no operation of this queue is in the kernel (after `close()`), so the fd can
    /// be closed without the kernel still using it.
    nonisolated(nonsending) func waitUntilDisarmed() async {
        guard multishot.isArmed else { return }
        unsafe await withUnsafeContinuation { continuation in unsafe multishot.parkUntilDisarmed(continuation) }
    }
}
