import RPCFixtures
import Testing
import Tether
import TetherReactor
import TetherTesting

extension PluginLaunchTests {
    /// Callbacks across processes: the host passes an object, the plugin calls it back over the
    /// same session and passes an object of its own back in that call; a callback kept past its
    /// call is released.
    @Suite(.timeLimit(.minutes(1)))
    struct PluginCallbackTests {
        @Test func aPluginCallsTheHostBackAndTheHostCallsThePluginBack() async throws {
            try await withoutLeaks { reactor in
                try await withPlugin(configuration(), on: reactor) { plugin in
                    let jobs = try plugin.dispense(JobsClient.self, name: "jobs")
                    let sink = RecordingSink()
                    let answer = try await jobs.run(5, progress: sink)
                    #expect(answer == "the caller heard: the callee, asked who?")
                    #expect(sink.steps == [1, 2, 3, 4, 5])
                    try await jobs.fanOut(100, sink: sink)
                    #expect(sink.steps.count == 105)

                    try await jobs.keep(sink)
                    let error = await #expect(throws: RPCError.self) { try await jobs.callKept() }
                    #expect(error?.code == .callbackReleased, "\(String(describing: error))")
                }
            }
        }
    }
}
