import Foundation
import Testing
import TetherReactor
import TetherTesting

extension ReactorSuite {
    @Suite(.timeLimit(.minutes(1))) struct TransportTests {
        /// Random bytes in chunks of varying sizes arrive intact and in order over every transport,
        /// in both directions at once.
        @Test(arguments: Transport.allCases)
        func bytesArriveIntactAndInOrder(transport: Transport) async throws {
            try await withReactor { reactor in
                let (a, b) = try await transport.connectedPair(on: reactor)
                let totalBytes = 8 * 1024 * 1024 + 17
                async let aToB: Void = Self.transfer(from: a, to: b, bytes: totalBytes, seed: 1)
                async let bToA: Void = Self.transfer(from: b, to: a, bytes: totalBytes, seed: 2)
                _ = try await (aToB, bToA)
                try await a.close()
                try await b.close()
            }
        }

        static func transfer(from sender: StreamSocket, to receiver: StreamSocket, bytes: Int, seed: UInt64)
            async throws
        {
            #expect(try await transferPattern(from: sender, to: receiver, bytes: bytes, seed: seed) == bytes)
        }

        /// The peer closing its socket is end of stream: `receive()` returns nil, repeatedly.
        @Test(arguments: Transport.allCases)
        func peerCloseIsEndOfStream(transport: Transport) async throws {
            try await withReactor { reactor in
                let (a, b) = try await transport.connectedPair(on: reactor)
                try await a.send(BufferSlice(copying: [1, 2, 3]))
                try await a.close()
                var bytes: [UInt8] = []
                while let slice = try await b.receive() { bytes += slice.bytes }
                #expect(bytes == [1, 2, 3])
                #expect(try await b.receive() == nil)
                try await b.close()
            }
        }

        @Test func connectToMissingUnixSocketIsNoSuchFile() async throws {
            try await withReactor { reactor in
                let error = await #expect(throws: ReactorError.self) {
                    _ = try await StreamSocket.connect(to: .unix(path: "/tmp/tether-no-such-socket"), on: reactor)
                }
                #expect(error?.isNoSuchFile == true)
                #expect(error?.operation == "connect")
            }
        }

        @Test func connectToClosedPortIsConnectionRefused() async throws {
            try await withReactor { reactor in
                // Take a free port, then close it: nothing listens there afterwards.
                let listener = try Listener.listen(on: .tcp(host: "127.0.0.1", port: 0), reactor: reactor)
                let address = listener.address
                try await listener.close()
                let error = await #expect(throws: ReactorError.self) {
                    _ = try await StreamSocket.connect(to: address, on: reactor)
                }
                #expect(error?.isConnectionRefused == true)
            }
        }

        @Test func malformedAddressesAreInvalidArguments() async throws {
            try await withReactor { reactor in
                for address in [
                    SocketAddress.tcp(host: "not-an-ip", port: 1), .unix(path: String(repeating: "x", count: 200)),
                ] {
                    let error = await #expect(throws: ReactorError.self) {
                        _ = try await StreamSocket.connect(to: address, on: reactor)
                    }
                    #expect(error?.code == .invalidArgument)
                }
            }
        }

        @Test func listenerRemovesItsSocketFile() async throws {
            try await withReactor { reactor in
                let path = "/tmp/tether-test-unlink-\(UInt32.random(in: 0...UInt32.max)).sock"
                let listener = try Listener.listen(on: .unix(path: path), reactor: reactor)
                #expect(access(path) == true)
                try await listener.close()
                #expect(access(path) == false)
            }
        }
    }
}

private func access(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }
