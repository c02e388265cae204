import Testing
import TetherMux
import TetherReactor
import TetherTesting

/// Interop with the real hashicorp/yamux (Debian's 2019 snapshot) in another process, both roles.
/// CI always runs these; locally they skip only when the Go peer is not built.
@Suite(
    .enabled(if: GoYamuxPeer.shouldRun, "needs `make go-peer` (golang-github-hashicorp-yamux-dev)"),
    .timeLimit(.minutes(2))
)
struct GoInteropTests {
    /// Tether client, Go server echoing: 100 concurrent streams, 1–4 MiB of random data each.
    @Test func tetherClientHundredStreamsThroughGoEcho() async throws {
        try await withReactor { reactor in
            let peer = try await GoYamuxPeer.start(["-role", "server", "-scenario", "echo"], on: reactor)
            let session = try await MuxSession(socket: peer.socket, role: .client)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<100 {
                    group.addTask(executorPreference: reactor) {
                        let pattern = ByteStreamPattern(seed: UInt64(1000 + index))
                        let bytes = 1_048_576 + (index * 31_469) % (3 * 1_048_576)
                        let stream = try await session.openStream()
                        async let received: Int = {
                            var received = 0
                            while let slice = try await stream.read() {
                                #expect(pattern.firstMismatch(in: slice, at: received) == nil)
                                received += slice.count
                            }
                            return received
                        }()
                        var sent = 0
                        while sent < bytes {
                            let count = min(200_000, bytes - sent)
                            try await stream.write(pattern.slice(from: sent, count: count))
                            sent += count
                        }
                        try await stream.closeWrite()
                        #expect(try await received == bytes)
                    }
                }
                try await group.waitForAll()
            }
            // No bytesCopied == 0 here: with 100 streams echoing at once, unread slices can
            // legitimately hold more than half the receive ring, and then they are copied out to
            // keep the socket readable (the zero-copy assertion is the bulk test's, MuxSessionTests).
            await session.close()
            let (status, output) = try await peer.finish()
            #expect(status == .exited(code: 0), "\(output)")
            #expect(output.contains("streams=100"), "\(output)")
        }
    }

    /// Go client, Tether server echoing: Go checks SHA-256 of 100 streams of 1–4 MiB.
    @Test func goClientHundredStreamsThroughTetherEcho() async throws {
        try await withReactor { reactor in
            let peer = try await GoYamuxPeer.start(
                [
                    "-role", "client", "-scenario", "echo-client", "-streams", "100", "-min", "1048576", "-max",
                    "4194304",
                ],
                on: reactor)
            let session = try await MuxSession(socket: peer.socket, role: .server)
            let server = Task(executorPreference: reactor) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for try await stream in session.incomingStreams {
                        group.addTask(executorPreference: reactor) {
                            while let slice = try await stream.read() { try await stream.write(slice) }
                            try await stream.closeWrite()
                        }
                    }
                    try await group.waitForAll()
                }
            }
            let (status, output) = try await peer.finish()
            let why = "\(await session.endReason.map { "\($0)" } ?? "-") \(await session.diagnostics)"
            #expect(status == .exited(code: 0), "\(output) \(why)")
            #expect(output.contains("ok streams=100"), "\(output)")
            await session.close()
            _ = try? await server.value
        }
    }

    @Test func pingsInBothDirections() async throws {
        try await withReactor { reactor in
            // Tether pings a Go server.
            let goServer = try await GoYamuxPeer.start(["-role", "server", "-scenario", "echo"], on: reactor)
            let client = try await MuxSession(socket: goServer.socket, role: .client)
            #expect(try await client.ping() > .zero)
            await client.close()
            #expect(try await goServer.finish().0 == .exited(code: 0))
            // A Go client pings Tether.
            let goClient = try await GoYamuxPeer.start(
                ["-role", "client", "-scenario", "ping", "-count", "3"], on: reactor)
            let server = try await MuxSession(socket: goClient.socket, role: .server)
            let (status, output) = try await goClient.finish()
            #expect(status == .exited(code: 0), "\(output)")
            #expect(output.split(separator: "\n").filter { $0.hasPrefix("rtt ") }.count == 3, "\(output)")
            await server.close()
        }
    }

    /// Go's GoAway(0) stops new streams from Tether; the session itself stays up until closed.
    @Test func goAwayFromGoStopsNewStreams() async throws {
        try await withReactor { reactor in
            let peer = try await GoYamuxPeer.start(["-role", "server", "-scenario", "goaway"], on: reactor)
            let session = try await MuxSession(socket: peer.socket, role: .client)
            // The GoAway arrives on its own; a ping round trip after it proves it was processed.
            var refused: MuxError?
            for _ in 0..<100 where refused == nil {
                _ = try await session.ping()
                do {
                    let stream = try await session.openStream()
                    await stream.reset()
                } catch let error as MuxError {
                    refused = error
                }
            }
            #expect(refused?.code == .remoteGoAway)
            await session.close()
            #expect(try await peer.finish().0 == .exited(code: 0))
        }
    }

    /// A stream reset by Go ends reads on our side with `streamReset`.
    @Test func resetFromGo() async throws {
        try await withReactor { reactor in
            let peer = try await GoYamuxPeer.start(["-role", "server", "-scenario", "reset"], on: reactor)
            let session = try await MuxSession(socket: peer.socket, role: .client)
            let stream = try await session.openStream()
            try await stream.write(BufferSlice(copying: [1]))
            let error = await #expect(throws: MuxError.self) { while try await stream.read() != nil {} }
            #expect(error?.code == .streamReset)
            // The Go side reports the RST it injected. Wait for that line before closing: Go's
            // main returns when the session ends, which can cut off the goroutine about to print.
            var said = ""
            while !said.contains("\n"), let slice = try await peer.output.read() {
                said += String(decoding: slice.bytes, as: UTF8.self)
            }
            #expect(said.contains("reset stream=\(stream.id)"), "\(said)")
            await session.close()
            // Go ends the session as expected; anything it found wrong makes it exit non-zero.
            let (status, output) = try await peer.finish()
            #expect(status == .exited(code: 0), "\(said)\(output)")
        }
    }

    /// Go with 16 MiB windows sends frames as large as its window allows; we must take them.
    @Test func goSenderWithSixteenMebibyteWindows() async throws {
        try await withReactor { reactor in
            var configuration = MuxConfiguration()
            configuration.maxStreamWindowBytes = 16 * 1024 * 1024
            let peer = try await GoYamuxPeer.start(
                [
                    "-role", "client", "-scenario", "source", "-streams", "4", "-bytes", "33554432", "-window",
                    "16777216",
                ],
                on: reactor)
            let session = try await MuxSession(socket: peer.socket, role: .server, configuration: configuration)
            let sink = Task(executorPreference: reactor) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for try await stream in session.incomingStreams {
                        group.addTask(executorPreference: reactor) {
                            var count: UInt64 = 0
                            while let slice = try await stream.read() { count += UInt64(slice.count) }
                            let reply = BufferSlice(count: 8) { span in
                                for index in 0..<8 {
                                    span[index] = UInt8(truncatingIfNeeded: count >> (56 - 8 * UInt64(index)))
                                }
                            }
                            try await stream.writeAndClose([reply])
                        }
                    }
                    try await group.waitForAll()
                }
            }
            let (status, output) = try await peer.finish()
            #expect(status == .exited(code: 0), "\(output)")
            #expect(output.contains("ok streams=4"), "\(output)")
            let reason = await session.endReason
            #expect(reason == nil || reason?.code == .connectionClosed)
            await session.close()
            _ = try? await sink.value
        }
    }

    /// Go with default 256 KiB windows receives from our auto-tuning sender: a frame beyond what
    /// Go granted would make it tear the session down (exit 2).
    @Test func autoTunedSenderRespectsGoDefaultWindows() async throws {
        try await withReactor { reactor in
            let peer = try await GoYamuxPeer.start(["-role", "server", "-scenario", "sink"], on: reactor)
            let session = try await MuxSession(socket: peer.socket, role: .client)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask(executorPreference: reactor) {
                        let bytes = 16 * 1024 * 1024
                        let chunk = BufferSlice(count: 1024 * 1024) { span in
                            for index in span.indices { span[index] = UInt8(truncatingIfNeeded: index) }
                        }
                        let stream = try await session.openStream()
                        for _ in 0..<(bytes / chunk.count) { try await stream.write(chunk) }
                        try await stream.closeWrite()
                        var reply: [UInt8] = []
                        while let slice = try await stream.read() { reply += slice.bytes }
                        #expect(reply.reduce(UInt64(0)) { $0 << 8 | UInt64($1) } == UInt64(bytes))
                    }
                }
                try await group.waitForAll()
            }
            await session.close()
            let (status, output) = try await peer.finish()
            #expect(status == .exited(code: 0), "\(output)")
        }
    }
}
