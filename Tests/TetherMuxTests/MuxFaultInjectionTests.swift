import Glibc
import Testing
import TetherMux
import TetherReactor
import TetherTesting

/// Mux sessions over sockets whose operations fail or fall short the way the kernel can
/// (`FaultInjector`): frames split anywhere by short sends and receives, transient errors, a reset
/// or a broken pipe in the middle of a frame. Each test checks the bytes of the streams (and
/// sessions) not hit, the error every waiter of a failed session wakes with, and leaks.
@Suite(.serialized, .timeLimit(.minutes(1))) struct MuxFaultInjectionTests {
    /// Short sends cut the session's gathered `sendmsg`s anywhere (mid-header, mid-payload) and
    /// short receives hand its decoder every chunk in pieces of 5 bytes: twenty streams echo
    /// their bytes intact both ways.
    @Test func shortSendsAndReceivesSplitFramesAnywhereAndLoseNothing() async throws {
        let injector = FaultInjector()
        try await withMuxSessionPair(reactor: .injectingFaults(injector)) { client, server, reactor in
            injector.add(
                .init(
                    .send, fileDescriptor: client.socket.fileDescriptor.rawValue, times: nil,
                    fault: .short(maxBytes: 997)))
            injector.add(
                .init(
                    .send, fileDescriptor: server.socket.fileDescriptor.rawValue, times: nil,
                    fault: .short(maxBytes: 13)))
            injector.add(
                .init(
                    .receive, fileDescriptor: server.socket.fileDescriptor.rawValue, times: nil,
                    fault: .short(maxBytes: 5)))
            try await Self.echoStreams(client: client, server: server, reactor: reactor, count: 20, bytes: 16 * 1024)
            #expect(injector.injectedCount > 100)
        }
    }

    /// `EINTR` and `EAGAIN` on the session's sends (several, in the middle of the traffic) and on
    /// its receive (interrupted mid-stream): every stream's bytes arrive intact.
    @Test(arguments: [EINTR, EAGAIN])
    func transientErrorsLoseNothing(errno: Int32) async throws {
        let injector = FaultInjector()
        try await withMuxSessionPair(reactor: .injectingFaults(injector)) { client, server, reactor in
            let clientFD = client.socket.fileDescriptor.rawValue
            let serverFD = server.socket.fileDescriptor.rawValue
            for after in [2, 5, 9] {
                injector.add(.init(.send, fileDescriptor: clientFD, after: after, fault: .fail(errno: errno)))
                injector.add(.init(.send, fileDescriptor: serverFD, after: after, fault: .fail(errno: errno)))
            }
            async let echoed: Void = Self.echoStreams(
                client: client, server: server, reactor: reactor, count: 10, bytes: 64 * 1024)
            try await reactor.injectFault(.init(.receive, fileDescriptor: serverFD, fault: .fail(errno: errno)))
            try await reactor.injectFault(.init(.receive, fileDescriptor: clientFD, fault: .fail(errno: errno)))
            try await echoed
            #expect(injector.injectedCount == 8)
        }
    }

    /// The session's receive finds the buffer ring empty (`ENOBUFS`) several times: it reads
    /// into own memory, the streams' bytes arrive intact.
    @Test func emptyBufferRingLosesNothing() async throws {
        let injector = FaultInjector()
        try await withMuxSessionPair(reactor: .injectingFaults(injector)) { client, server, reactor in
            async let echoed: Void = Self.echoStreams(
                client: client, server: server, reactor: reactor, count: 10, bytes: 64 * 1024)
            for _ in 0..<3 {
                try await reactor.injectFault(
                    .init(.receive, fileDescriptor: server.socket.fileDescriptor.rawValue, fault: .fail(errno: ENOBUFS))
                )
            }
            try await echoed
            #expect(injector.injectedCount == 3)
        }
    }

    /// A connection reset while the session holds half of a frame header: the session fails and
    /// every waiter on it (a stream's read, a stream's write waiting for window, an accept) wakes
    /// with `connectionClosed` carrying `ECONNRESET`; a second session on the same reactor goes on intact; the failed
    /// session's socket is closed with it.
    @Test func connectionResetMidFrameFailsEveryWaiter() async throws {
        let injector = FaultInjector()
        try await withMuxSessionPair(reactor: .injectingFaults(injector)) { client, server, reactor in
            let descriptors = DescriptorSnapshot()
            let (victimSocket, raw) = try StreamSocket.makePair(on: reactor)
            let victim = try await MuxSession(socket: victimSocket, role: .server)
            // A stream with 3 bytes, then 6 bytes of the next frame's header.
            var input: [UInt8] = []
            FrameHeader.data(streamID: 1, flags: .syn, payloadBytes: 3).encode(into: &input)
            input += [1, 2, 3]
            var next: [UInt8] = []
            FrameHeader.data(streamID: 1, flags: [], payloadBytes: 3).encode(into: &next)
            input += next.prefix(6)
            try await raw.send(BufferSlice(copying: input))
            // The peer reads what the session sends (a reset would end its pending sends too):
            // the write below waits for window, not for the kernel.
            let drain = Task(executorPreference: reactor) { while try await raw.receive() != nil {} }
            let stream = try await victim.acceptStream()
            #expect(try await stream.read()?.bytes == [1, 2, 3])
            let pendingRead = Task(executorPreference: reactor) { try await stream.read() }
            let pendingAccept = Task(executorPreference: reactor) { try await victim.acceptStream() }
            // More than the peer's initial 256 KiB window: the write waits for a window update.
            let pendingWrite = Task(executorPreference: reactor) {
                try await stream.write(ByteStreamPattern(seed: 1).slice(from: 0, count: 300 * 1024))
            }
            async let other: Void = Self.echoStreams(
                client: client, server: server, reactor: reactor, count: 4, bytes: 256 * 1024)

            try await reactor.injectFault(
                .init(.receive, fileDescriptor: victimSocket.fileDescriptor.rawValue, fault: .fail(errno: ECONNRESET)))
            // The errno says how the connection ended.
            let reset = MuxError(.connectionClosed, value: UInt64(ECONNRESET))
            await #expect(throws: reset) { _ = try await Self.value(of: pendingRead) }
            await #expect(throws: reset) { _ = try await Self.value(of: pendingAccept) }
            await #expect(throws: reset) { try await Self.value(of: pendingWrite) }
            await victim.waitUntilFinished()
            #expect(await victim.endReason == reset)
            #expect(
                reset.description == "mux connectionClosed (errno \(ECONNRESET)): connection failed")
            try await other
            await stream.close()
            await victim.close()
            try await drain.value
            try await raw.close()
            #expect(try await eventually(on: reactor) { descriptors.added == 0 }, "\(descriptors.added) fds left")
        }
    }

    /// A broken pipe after the kernel took 5 bytes of a frame: the sending session fails, its
    /// waiters wake with `connectionClosed` carrying `EPIPE`, and its peer, which got half a header and then the
    /// end of the connection, fails its waiters the same way.
    @Test func brokenPipeMidFrameFailsBothSessionsWaiters() async throws {
        let injector = FaultInjector()
        try await withMuxSessionPair(reactor: .injectingFaults(injector)) { client, server, reactor in
            let stream = try await client.openStream()
            try await stream.write(BufferSlice(copying: [1]))
            let accepted = try await server.acceptStream()
            #expect(try await accepted.read()?.bytes == [1])
            let clientRead = Task(executorPreference: reactor) { try await stream.read() }
            let serverRead = Task(executorPreference: reactor) { try await accepted.read() }
            let serverAccept = Task(executorPreference: reactor) { try await server.acceptStream() }

            let fd = client.socket.fileDescriptor.rawValue
            injector.add(.init(.send, fileDescriptor: fd, fault: .short(maxBytes: 5)))
            injector.add(.init(.send, fileDescriptor: fd, after: 1, fault: .fail(errno: EPIPE)))
            try await stream.write(BufferSlice(copying: Array(repeating: 7, count: 100)))

            // The sender's socket failed with EPIPE. Its peer saw the connection end: compared
            // by code, since a close with unread input makes a unix socket's peer read
            // ECONNRESET rather than the end of the input.
            let brokenPipe = MuxError(.connectionClosed, value: UInt64(EPIPE))
            await #expect(throws: brokenPipe) { _ = try await Self.value(of: clientRead) }
            let serverReadError = await #expect(throws: MuxError.self) { _ = try await Self.value(of: serverRead) }
            #expect(serverReadError?.code == .connectionClosed)
            let serverAcceptError = await #expect(throws: MuxError.self) { _ = try await Self.value(of: serverAccept) }
            #expect(serverAcceptError?.code == .connectionClosed)
            #expect(injector.injectedCount == 2)
            #expect(await client.endReason == brokenPipe)
            #expect(await server.endReason?.code == .connectionClosed)
        }
    }

    /// `count` streams from `client`, each writing `bytes` of its own pattern and its FIN; the
    /// server echoes each; every stream checks what comes back.
    private static func echoStreams(
        client: MuxSession, server: MuxSession, reactor: Reactor, count: Int, bytes: Int
    ) async throws {
        // A child task, so that the test's time limit cancels it too.
        async let acceptor: Void = withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<count {
                let stream = try await server.acceptStream()
                group.addTask(executorPreference: reactor) {
                    while let slice = try await stream.read() { try await stream.write(slice) }
                    try await stream.closeWrite()
                }
            }
            try await group.waitForAll()
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<count {
                group.addTask(executorPreference: reactor) {
                    let pattern = ByteStreamPattern(seed: UInt64(index) + 1000)
                    let stream = try await client.openStream()
                    async let received: Int = {
                        var received = 0
                        var intact = true
                        while let slice = try await stream.read() {
                            if pattern.firstMismatch(in: slice, at: received) != nil { intact = false }
                            received += slice.count
                        }
                        #expect(intact, "stream \(index): a byte was lost, doubled or reordered")
                        return received
                    }()
                    var position = 0
                    while position < bytes {
                        let count = min(bytes - position, 7_001 + index * 13)
                        try await stream.write(pattern.slice(from: position, count: count))
                        position += count
                    }
                    try await stream.closeWrite()
                    #expect(try await received == bytes)
                    await stream.close()
                }
            }
            try await group.waitForAll()
        }
        try await acceptor
    }

    /// The value of `task`, cancelling it if the caller is cancelled (the test's time limit): a
    /// waiter that is never woken fails the test instead of hanging the run.
    private static func value<Value: Sendable>(of task: Task<Value, any Error>) async throws -> Value {
        try await withTaskCancellationHandler {
            try await task.value
        } onCancel: {
            task.cancel()
        }
    }
}
