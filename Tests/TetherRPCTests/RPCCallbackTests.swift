import Foundation
import RPCFixtures
import Synchronization
import Testing
import TetherMux
import TetherPluginInterface
import TetherReactor
import TetherTesting

/// Interfaces as arguments: the callee calls the caller's object back over the same session,
/// may pass an object of its own back in that call, and cannot use the object after the call
/// that carried it has returned.
@Suite(.timeLimit(.minutes(1)))
struct RPCCallbackTests {
    /// The callee's server (serving `Jobs`) on one session, the caller's callback server on the
    /// other; `body` gets a `Jobs` client whose channel passes callbacks.
    private func withJobs(
        calleeConfiguration: RPCConfiguration = RPCConfiguration(),
        _ body: @Sendable (JobsClient) async throws -> Void
    ) async throws {
        try await withMuxSessionPair { client, server, reactor in
            let callee = RPCServer(configuration: calleeConfiguration)
            callee.register(JobsService(JobRunner()))
            let callbacks = RPCServer()
            let serving = [
                Task(executorPreference: reactor) { await callee.serve(server) },
                Task(executorPreference: reactor) { await callbacks.serve(client) },
            ]
            defer { for task in serving { task.cancel() } }
            try await body(JobsClient(channel: RPCChannel(session: client, callbackServer: callbacks)))
        }
    }

    @Test func theCalleeCallsTheCallerBackAndPassesAnObjectOfItsOwn() async throws {
        try await withJobs { jobs in
            let sink = RecordingSink()
            let answer = try await jobs.run(3, progress: sink)
            #expect(answer == "the caller heard: the callee, asked who?")
            #expect(sink.steps == [1, 2, 3])
        }
    }

    @Test func concurrentCallsBackAllArrive() async throws {
        try await withJobs { jobs in
            let sink = RecordingSink()
            try await jobs.fanOut(64, sink: sink)
            #expect(sink.steps.sorted() == Array(1...64))
        }
    }

    /// A callback lives as long as the call that carried it: kept and called later, it is gone.
    @Test func aCallbackIsReleasedWhenItsCallReturns() async throws {
        try await withJobs { jobs in
            let sink = RecordingSink()
            try await jobs.keep(sink)
            let error = await #expect(throws: RPCError.self) { try await jobs.callKept() }
            #expect(error?.code == .callbackReleased, "\(String(describing: error))")
            #expect(sink.steps.isEmpty)
        }
    }

    /// A call cancelled on the caller's side releases its callbacks as well.
    @Test func aCallbackIsReleasedWhenItsCallIsCancelled() async throws {
        try await withJobs { jobs in
            let sink = RecordingSink()
            let blocked = Task { try await jobs.keepAndBlock(sink) }
            // The callee kept it: a call back through another call still reaches the sink.
            let kept = try await eventually {
                (try? await jobs.callKept()) != nil && sink.steps == [0]
            }
            #expect(kept)
            blocked.cancel()
            _ = await blocked.result
            let error = await #expect(throws: RPCError.self) { try await jobs.callKept() }
            #expect(error?.code == .callbackReleased, "\(String(describing: error))")
            #expect(sink.steps == [0])
        }
    }

    /// The callee's `callbackTimeout` bounds each call back: a caller's object that never
    /// answers fails the callee's call back with `deadlineExceeded` (which the callee's handler
    /// lets through) and its handler on the caller's side is cancelled.
    @Test func aCallBackThatHangsFailsWithinTheCalleesTimeout() async throws {
        var configuration = RPCConfiguration()
        configuration.callbackTimeout = .milliseconds(50)
        try await withJobs(calleeConfiguration: configuration) { jobs in
            let sink = HangingSink()
            let error = await #expect(throws: RPCError.self) { _ = try await jobs.run(1, progress: sink) }
            #expect(error?.code == .deadlineExceeded, "\(String(describing: error))")
            let cancelled = try await eventually { sink.cancelled.load(ordering: .relaxed) }
            #expect(cancelled, "the caller's handler was not cancelled")
        }
    }

    /// One method that takes both a byte stream and a callback: the callee reads 1 MiB of the
    /// caller's bytes, intact and in order, and calls the caller's sink back after each slice
    /// with the count so far, on the same call, while the bytes still flow.
    @Test func aMethodTakesAByteStreamAndACallback() async throws {
        try await withMuxSessionPair { client, server, reactor in
            let callee = RPCServer()
            callee.register(ReportedUploadsService(ReportingUploader()))
            let callbacks = RPCServer()
            let serving = [
                Task(executorPreference: reactor) { await callee.serve(server) },
                Task(executorPreference: reactor) { await callbacks.serve(client) },
            ]
            defer { for task in serving { task.cancel() } }
            let uploads = ReportedUploadsClient(channel: RPCChannel(session: client, callbackServer: callbacks))
            let byteCount = 1024 * 1024 + 5
            let data = BlobPattern.stream(byteCount: byteCount, chunkBytes: 30_000, seed: 4)
            let sink = RecordingSink()
            let check = try await uploads.upload(data, expected: byteCount, seed: 4, progress: sink)
            #expect(check == BlobCheck(byteCount: byteCount, firstMismatch: nil))
            let steps = sink.steps
            #expect(steps.last == byteCount)
            #expect(steps.count > 1, "one call back per slice")
            #expect(zip(steps, steps.dropFirst()).allSatisfy { $0 < $1 }, "counts in order")
        }
    }

    @Test func aChannelWithoutACallbackServerCannotPassOne() async throws {
        try await withMuxSessionPair { client, _, _ in
            let jobs = JobsClient(channel: RPCChannel(session: client))
            let error = await #expect(throws: RPCError.self) { _ = try await jobs.run(1, progress: RecordingSink()) }
            #expect(error?.code == .callbacksUnavailable)
        }
    }
}

/// A sink whose progress never returns until it is cancelled.
private final class HangingSink: ProgressSink, Sendable {
    let cancelled = Atomic<Bool>(false)

    func progress(_ done: Int, of total: Int) async throws {
        do {
            try await Task.sleep(for: .seconds(3600))
        } catch {
            cancelled.store(true, ordering: .relaxed)
            throw error
        }
    }

    func ask(_ question: String, answerer: any Answerer & Sendable) async throws -> String { question }
}
