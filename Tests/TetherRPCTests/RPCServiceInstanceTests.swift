import Foundation
import RPCFixtures
import Synchronization
import Testing
import TetherMux
import TetherPluginInterface
import TetherReactor
import TetherTesting

/// Services registered by factory: one instance per `NAME#ID`, and unregistering stops them all.
@Suite(.timeLimit(.minutes(1)))
struct RPCServiceInstanceTests {
    @Test func eachInstanceHasItsOwnStateAndUnregisterStopsThemAll() async throws {
        try await withMuxSessionPair { client, server, reactor in
            let rpcServer = RPCServer()
            let made = Mutex(0)
            rpcServer.register(
                factory: {
                    made.withLock { $0 += 1 }; return KeyValueService(Store())
                }, as: "kv")
            let serving = Task(executorPreference: reactor) { await rpcServer.serve(server) }
            defer { serving.cancel() }
            let first = KeyValueClient(channel: RPCChannel(session: client, service: "kv#1"))
            let second = KeyValueClient(channel: RPCChannel(session: client, service: "kv#2"))
            try await first.put("k", value: Data([1]))
            try await second.put("k", value: Data([2]))
            #expect(try await first.get("k") == Data([1]))
            #expect(try await second.get("k") == Data([2]))
            #expect(made.withLock { $0 } == 2)

            rpcServer.unregister("kv")
            for stopped in [first, second, KeyValueClient(channel: RPCChannel(session: client, service: "kv#3"))] {
                let error = await #expect(throws: RPCError.self) { _ = try await stopped.get("k") }
                #expect(error?.code == .unknownMethod)
            }
            #expect(made.withLock { $0 } == 2)
        }
    }
}
