import CLibUring
import Glibc

/// The accepting side of a listener: one multishot accept feeding a bounded queue of new
/// connections, and at most one waiting `accept()`.
///
/// When `acceptQueueLimit` connections wait unclaimed, the multishot is cancelled; pending
/// connections then wait in the kernel's listen backlog until `accept()` drains the queue.
@safe final class AcceptQueue: ParkingQueue, @unsafe @unchecked Sendable {
    // SAFETY: created and used on the reactor thread only; captured by cancellation handlers that
    // run elsewhere but only hand it back to the reactor thread (`onLoop`).
    unowned(unsafe) let loop: EventLoop
    let fd: Int32
    private var accepted = FIFO<Int32>()
    private var failure: (any Error)?
    private var armedUserData: UInt64?
    private var cancelRequested = false
    var waiter = ParkedWaiter<Int32>()
    private var disarmWaiter: UnsafeContinuation<Void, Never>?
    private var closed = false

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
        return nil
    }

    private func keepAccepting() {
        guard !closed, failure == nil else { return }
        if unsafe accepted.count >= loop.configuration.acceptQueueLimit {
            if let armedUserData, !cancelRequested {
                cancelRequested = true
                unsafe loop.cancel(armedUserData)
            }
            return
        }
        guard armedUserData == nil else { return }
        armedUserData = unsafe loop.start(.acceptMultishot(fd: fd), target: .acceptor(self))
        if armedUserData == nil {
            unsafe fail(ReactorError(loop.stopping ? .shutDown : .tooManyOperations, operation: "accept"))
        }
    }

    func complete(_ completion: Completion, final: Bool) {
        if final {
            armedUserData = nil
            cancelRequested = false
            if let disarmWaiter = unsafe disarmWaiter {
                unsafe self.disarmWaiter = nil
                unsafe disarmWaiter.resume()
            }
        }
        let result = completion.result
        if result >= 0 {
            if closed {
                Glibc.close(result)
            } else if !waiter.resume(.success(result)) {
                accepted.append(result)
            }
        } else if result == -ECANCELED {
            if unsafe loop.stopping { fail(ReactorError(.shutDown, operation: "accept")) }
        } else if result != -EINTR && result != -EAGAIN && result != -ECONNABORTED {
            fail(ReactorError.system("accept", -result))
        }
        if final, unsafe waiter.isParked || accepted.count < loop.configuration.acceptQueueLimit / 2 { keepAccepting() }
    }

    func fail(_ error: any Error) {
        if failure == nil { failure = error }
        resumeWaiter(.failure(error))
    }

    private func resumeWaiter(_ result: Result<Int32, any Error>) { waiter.resume(result) }

    nonisolated(nonsending) func waitUntilDisarmed() async {
        guard armedUserData != nil else { return }
        unsafe await withUnsafeContinuation { continuation in unsafe disarmWaiter = unsafe continuation }
    }

    /// Stops accepting, closes connections nobody claimed, wakes a waiter with `closed`.
    func close() {
        closed = true
        while let fd = accepted.popFirst() { Glibc.close(fd) }
        if let armedUserData { unsafe loop.cancel(armedUserData) }
        resumeWaiter(.failure(ReactorError(.closed, operation: "accept")))
    }
}
