import Glibc
import Testing

@testable import TetherReactor

/// The completion decoders as values: a CQE's result and flags in, a typed result out. No ring.
@Suite struct CompletionDecodingTests {
    let running = CompletionContext(shuttingDown: false)
    let stopping = CompletionContext(shuttingDown: true)
    let closedHandle = CompletionContext(shuttingDown: false, handleClosed: true)

    private func failure(_ errno: Int32, _ context: CompletionContext) -> CompletionFailure {
        CompletionFailure(errno: errno, operation: "recv", context: context)
    }

    /// IORING_CQE_F_BUFFER with the buffer ID in the upper 16 bits; IORING_CQE_F_MORE.
    private static func bufferFlags(_ bufferID: UInt16) -> UInt32 { UInt32(bufferID) << 16 | 1 }
    private static let moreFlag: UInt32 = 2

    // MARK: The errno classes every kind shares

    @Test(arguments: [EINTR, EAGAIN])
    func interruptedOrWouldBlockIsARetry(errno: Int32) {
        #expect(failure(errno, running) == .retry)
        #expect(failure(errno, stopping) == .retry)
    }

    @Test func cancelledIsACancellationOrTheShutdown() {
        #expect(failure(ECANCELED, running) == .cancelled)
        #expect(failure(ECANCELED, running).error is CancellationError)
        guard case .failed(let error) = failure(ECANCELED, stopping) else {
            Issue.record("a cancellation while shutting down is a failure")
            return
        }
        #expect(error.code == .shutDown)
        #expect(error.operation == "recv")
        #expect(error.errno == nil)
    }

    @Test func badDescriptorOfAClosedHandleIsClosed() {
        guard case .failed(let error) = failure(EBADF, closedHandle) else {
            Issue.record("EBADF after a close is a failure")
            return
        }
        #expect(error.code == .closed)
        #expect((failure(EBADF, closedHandle).error as? ReactorError)?.code == .closed)
    }

    @Test(arguments: [ECONNRESET, EPIPE, ENOTCONN, EINVAL, ETIME, ENOBUFS, EMFILE])
    func anyOtherErrnoIsASystemErrorNamingTheOperation(errno: Int32) {
        let expected = CompletionFailure.failed(ReactorError.system("recv", errno))
        #expect(failure(errno, running) == expected)
        #expect(failure(errno, stopping) == expected)
        #expect(failure(errno, closedHandle) == expected)
    }

    @Test func badDescriptorOfAnOpenHandleTraps() async {
        await #expect(processExitsWith: .failure) {
            _ = CompletionFailure(errno: EBADF, operation: "recv", context: CompletionContext(shuttingDown: false))
        }
    }

    @Test func badPointerTraps() async {
        await #expect(processExitsWith: .failure) {
            _ = CompletionFailure(
                errno: EFAULT, operation: "sendmsg", context: CompletionContext(shuttingDown: false, handleClosed: true)
            )
        }
    }

    // MARK: One decoder per kind

    @Test func receive() {
        let inBuffer = Completion(result: 1200, flags: Self.bufferFlags(37) | Self.moreFlag)
        #expect(inBuffer.decodeReceive("recv", running) == .success(.bytes(count: 1200, bufferID: 37)))
        #expect(inBuffer.hasMore)
        let inOwnMemory = Completion(result: 5, flags: 0)
        #expect(inOwnMemory.decodeReceive("recv", running) == .success(.bytes(count: 5, bufferID: nil)))
        #expect(Completion(result: 0, flags: 0).decodeReceive("recv", running) == .success(.endOfStream))
        #expect(Completion(result: -ENOBUFS, flags: 0).decodeReceive("recv", running) == .success(.bufferRingEmpty))
        #expect(Completion(result: -EAGAIN, flags: 0).decodeReceive("recv", running) == .failure(.retry))
        #expect(Completion(result: -ECANCELED, flags: 0).decodeReceive("recv", running) == .failure(.cancelled))
        #expect(
            Completion(result: -ECONNRESET, flags: 0).decodeReceive("read", running)
                == .failure(.failed(ReactorError.system("read", ECONNRESET))))
    }

    @Test func send() {
        #expect(Completion(result: 65536, flags: 0).decodeSend("sendmsg", running) == .success(65536))
        #expect(Completion(result: -EINTR, flags: 0).decodeSend("sendmsg", running) == .failure(.retry))
        #expect(
            Completion(result: -EPIPE, flags: 0).decodeSend("writev", running)
                == .failure(.failed(ReactorError.system("writev", EPIPE))))
        #expect(Completion(result: -ECANCELED, flags: 0).decodeSend("sendmsg", running) == .failure(.cancelled))
    }

    @Test func accept() {
        #expect(Completion(result: 9, flags: Self.moreFlag).decodeAccept("accept", running) == .success(.connection(9)))
        for errno in [EMFILE, ENFILE, ENOBUFS, ENOMEM] {
            #expect(
                Completion(result: -errno, flags: 0).decodeAccept("accept", running)
                    == .success(.outOfResources(errno: errno)))
        }
        #expect(
            Completion(result: -ECONNABORTED, flags: Self.moreFlag).decodeAccept("accept", running) == .failure(.retry))
        #expect(Completion(result: -EAGAIN, flags: 0).decodeAccept("accept", running) == .failure(.retry))
        #expect(
            Completion(result: -ECANCELED, flags: 0).decodeAccept("accept", stopping)
                == .failure(.failed(ReactorError(.shutDown, operation: "accept"))))
        #expect(
            Completion(result: -EINVAL, flags: 0).decodeAccept("accept", running)
                == .failure(.failed(ReactorError.system("accept", EINVAL))))
    }

    @Test func timeout() {
        #expect(Self.succeeded(Completion(result: -ETIME, flags: 0).decodeTimeout("timeout", running)))
        #expect(Self.succeeded(Completion(result: 0, flags: 0).decodeTimeout("timeout", running)))
        #expect(Self.failure(Completion(result: -ECANCELED, flags: 0).decodeTimeout("timeout", running)) == .cancelled)
        #expect(
            Self.failure(Completion(result: -ECANCELED, flags: 0).decodeTimeout("timeout", stopping))
                == .failed(ReactorError(.shutDown, operation: "timeout")))
    }

    @Test func connectAndClose() {
        #expect(Self.succeeded(Completion(result: 0, flags: 0).decodeDone("connect", running)))
        let refused = Self.failure(Completion(result: -ECONNREFUSED, flags: 0).decodeDone("connect", running))
        #expect((refused?.error as? ReactorError)?.isConnectionRefused == true)
        #expect(Self.failure(Completion(result: -EINTR, flags: 0).decodeDone("close", running)) == .retry)
    }

    @Test func poll() {
        #expect(Completion(result: Int32(POLLIN | POLLOUT), flags: 0).decodePoll("poll", running) == .success(5))
        #expect(
            Completion(result: -EINVAL, flags: 0).decodePoll("poll", running)
                == .failure(.failed(ReactorError.system("poll", EINVAL))))
    }

    @Test func exit() {
        let exited = Completion(result: 0, flags: 0, exit: .exited(code: 3))
        #expect(exited.decodeExit("waitid", running) == .success(.exited(code: 3)))
        #expect(
            Completion(result: -ECHILD, flags: 0).decodeExit("waitid", running)
                == .failure(.failed(ReactorError.system("waitid", ECHILD))))
        #expect(Completion(result: -ECANCELED, flags: 0).decodeExit("waitid", running) == .failure(.cancelled))
    }

    private static func succeeded(_ result: Result<Void, CompletionFailure>) -> Bool {
        if case .success = result { true } else { false }
    }

    private static func failure(_ result: Result<Void, CompletionFailure>) -> CompletionFailure? {
        if case .failure(let failure) = result { failure } else { nil }
    }
}
