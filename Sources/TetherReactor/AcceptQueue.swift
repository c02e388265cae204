import CLibUring
import Glibc
import TetherCollections

/// The accepting side of a listener: one multishot accept feeding a bounded queue of new
/// connections, and at most one waiting `accept()`.
///
/// When `acceptQueueLimit` connections wait unclaimed, the multishot is cancelled; pending
/// connections then wait in the kernel's listen backlog until `accept()` drains the queue.
///
/// When the process runs out of descriptors or the kernel out of memory (`EMFILE`, `ENFILE`,
/// `ENOBUFS`, `ENOMEM`) the listener stays usable: the connections wait in the backlog, the
/// error is told once per episode (to the waiting `accept()`, or to the next one), and the
/// multishot is armed again after a back-off timer (10 ms, doubling up to 1 s, reset by the next
/// accepted connection), so an accept loop neither spins on the error nor stops for good.
@safe final class AcceptQueue: ParkingQueue, MultishotQueue, OperationCallback, @unsafe @unchecked Sendable {
    // SAFETY: created and used on the reactor thread only; captured by cancellation handlers that
    // run elsewhere but only hand it back to the reactor thread (`onLoop`).
    unowned(unsafe) let loop: EventLoop
    let fd: Int32
    private var accepted = FIFO<Int32>()
    private var failure: (any Error)?
    /// The multishot accept in the kernel.
    var multishot = MultishotRecord()
    var waiter = ParkedWaiter<Int32>()
    private var closed = false
    /// First and longest wait before accepting again after running out of descriptors or memory.
    static let firstBackoffNanoseconds: UInt64 = 10_000_000
    static let maxBackoffNanoseconds: UInt64 = 1_000_000_000
    private var backoffNanoseconds = firstBackoffNanoseconds
    /// The back-off timer in flight; no accept is armed meanwhile.
    private var backoffUserData: UInt64?
    /// From a resource error to the next accepted connection.
    private var exhausted = false
    /// The episode's error when no `accept()` was waiting as it began: told to the next one.
    private var pendingError: ReactorError?

    init(loop: EventLoop, fd: Int32) {
        unsafe self.loop = loop
        self.fd = fd
    }

    /// The next accepted connection's fd (owned by the caller). Reactor thread only.
    nonisolated(nonsending) func accept() async throws -> Int32 {
        try await next()
    }

    var operationName: String { "accept" }

    var reactor: Reactor { unsafe loop.reactor }

    func keepFilling() { keepAccepting() }

    /// A queued connection, or the failure; nil when the caller must wait.
    func takeReady() throws -> Int32? {
        if let fd = accepted.popFirst() {
            keepAccepting()
            return fd
        }
        if let failure { throw failure }
        if closed { throw ReactorError(.closed, operation: "accept") }
        if let pendingError {
            self.pendingError = nil
            throw pendingError
        }
        return nil
    }

    private func keepAccepting() {
        guard !closed, failure == nil, backoffUserData == nil else { return }
        if unsafe accepted.count >= loop.configuration.acceptQueueLimit {
            unsafe multishot.cancel(loop: loop)
            return
        }
        guard !multishot.isArmed else { return }
        if unsafe !multishot.arm(.acceptMultishot(fd: fd), target: .acceptor(self), loop: loop) {
            unsafe fail(ReactorError(loop.stopping ? .shutDown : .tooManyOperations, operation: "accept"))
        }
    }

    /// One completion of the multishot accept.
    func complete(_ completion: Completion) {
        let final = multishot.completed(completion)
        let context = unsafe CompletionContext(shuttingDown: loop.stopping, handleClosed: closed)
        switch completion.decodeAccept("accept", context) {
        case .success(.connection(let connection)):
            if exhausted {
                exhausted = false
                pendingError = nil
                backoffNanoseconds = Self.firstBackoffNanoseconds
            }
            if closed {
                closeDescriptor(connection)
            } else if !waiter.resume(.success(connection)) {
                accepted.append(connection)
            }
        case .success(.outOfResources(let errno)):
            runOutOfResources(errno: errno)
        case .failure(.retry), .failure(.cancelled):
            // Armed again below if anyone may want a connection.
            break
        case .failure(.failed(let error)):
            fail(error)
        }
        if final { keepAcceptingIfWanted() }
    }

    /// The kernel could not accept for want of descriptors or memory: tell the first time in an
    /// episode, and accept again after the back-off.
    private func runOutOfResources(errno: Int32) {
        guard !closed, failure == nil else { return }
        let error = ReactorError.system(
            "accept", errno,
            detail: "out of descriptors or memory; accepting again in \(backoffNanoseconds / 1_000_000) ms")
        if !exhausted {
            exhausted = true
            unsafe loop.counters.acceptResourceExhaustions += 1
            if !waiter.resume(.failure(error)) { pendingError = error }
        }
        backoffUserData = unsafe loop.start(.timeout(nanoseconds: backoffNanoseconds), target: .callback(self))
        if backoffUserData == nil {
            unsafe fail(ReactorError(loop.stopping ? .shutDown : .tooManyOperations, operation: "accept"))
        }
        backoffNanoseconds = min(backoffNanoseconds * 2, Self.maxBackoffNanoseconds)
    }

    /// The back-off timer ended: accept again (if anyone may want a connection).
    func operationCompleted(_ completion: Completion, loop: EventLoop) {
        backoffUserData = nil
        guard !closed else { return }
        let context = CompletionContext(shuttingDown: loop.stopping)
        if case .failure(.failed(let error)) = completion.decodeTimeout("accept", context), error.code == .shutDown {
            // Nothing else of this queue is in flight to tell a waiting accept of the shutdown.
            fail(error)
            return
        }
        keepAcceptingIfWanted()
    }

    /// Re-arms the accept after it ended if someone waits or the queue is less than half full.
    private func keepAcceptingIfWanted() {
        if unsafe waiter.isParked || accepted.count < loop.configuration.acceptQueueLimit / 2 { keepAccepting() }
    }

    func fail(_ error: any Error) {
        if failure == nil { failure = error }
        resumeWaiter(.failure(error))
    }

    private func resumeWaiter(_ result: Result<Int32, any Error>) { waiter.resume(result) }

    /// Stops accepting, closes connections nobody claimed, wakes a waiter with `closed`.
    func close() {
        closed = true
        while let connection = accepted.popFirst() { closeDescriptor(connection) }
        unsafe multishot.cancel(loop: loop, again: true)
        if let backoffUserData { unsafe loop.cancel(backoffUserData) }
        resumeWaiter(.failure(ReactorError(.closed, operation: "accept")))
    }
}
