import RPCFixtures
import Testing
import TetherMux
import TetherPluginInterface
import TetherReactor
import TetherTesting

/// What a kept callback holds: a service that keeps the channel to a caller's object beyond the
/// call must not keep its own server (and with it the session and the reactor) alive.
@Suite(.timeLimit(.minutes(1)))
struct RPCCallbackLifetimeTests {
    /// The server, held weakly, to see whether anything else still holds it.
    private final class WeakServer: Sendable {
        weak let server: RPCServer?
        init(_ server: RPCServer) { self.server = server }
    }

    @Test func aServerWhoseServiceKeptACallbackIsFreedWithItsSessions() async throws {
        let callee = try await withMuxSessionPair { client, server, reactor in
            let callee = RPCServer()
            callee.register(JobsService(JobRunner()))
            let callbacks = RPCServer()
            let serving = [
                Task(executorPreference: reactor) { await callee.serve(server) },
                Task(executorPreference: reactor) { await callbacks.serve(client) },
            ]
            let jobs = JobsClient(channel: RPCChannel(session: client, callbackServer: callbacks))
            try await jobs.keep(RecordingSink())
            await client.close()
            await server.close()
            for task in serving {
                task.cancel()
                await task.value
            }
            return WeakServer(callee)
        }
        // The last references of the call's own tasks go as they finish.
        let freed = try await eventually { callee.server == nil }
        #expect(freed, "the callee's server outlives its sessions: something still holds it")
    }
}
