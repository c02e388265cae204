import Synchronization

/// A callback interface: what a caller passes to be told of a job's progress.
@PluginInterface
public protocol ProgressSink {
    func progress(_ done: Int, of total: Int) async throws
    /// Answers `question`, asking `answerer` (a callback passed back the other way) first.
    func ask(_ question: String, answerer: any Answerer & Sendable) async throws -> String
}

/// A callback interface the callee passes back to the caller.
@PluginInterface
public protocol Answerer {
    func answer(_ question: String) async throws -> String
}

/// Methods that take callbacks.
@PluginInterface
public protocol Jobs {
    /// Tells `progress` of each of `steps`, then asks it "who?" (passing an answerer of its own)
    /// and returns the answer.
    func run(_ steps: Int, progress: any ProgressSink & Sendable) async throws -> String
    /// Keeps `sink` beyond the call.
    func keep(_ sink: any ProgressSink & Sendable) async throws
    /// Keeps `sink` beyond the call, then waits until the call is cancelled.
    func keepAndBlock(_ sink: any ProgressSink & Sendable) async throws
    /// Calls the kept sink, whose call has returned.
    func callKept() async throws
    /// Calls `sink` with `steps` steps at once (concurrently).
    func fanOut(_ steps: Int, sink: any ProgressSink & Sendable) async throws
}

/// The callee's side of ``Jobs``.
public final class JobRunner: Jobs, Sendable {
    private let kept = Mutex<(any ProgressSink & Sendable)?>(nil)

    public init() {}

    public func run(_ steps: Int, progress: any ProgressSink & Sendable) async throws -> String {
        for step in 0..<steps { try await progress.progress(step + 1, of: steps) }
        return try await progress.ask("who?", answerer: FixedAnswerer())
    }

    public func keep(_ sink: any ProgressSink & Sendable) async throws {
        kept.withLock { $0 = sink }
    }

    public func keepAndBlock(_ sink: any ProgressSink & Sendable) async throws {
        kept.withLock { $0 = sink }
        try await Task.sleep(for: .seconds(3600))
    }

    public func callKept() async throws {
        guard let sink = kept.withLock({ $0 }) else { return }
        try await sink.progress(0, of: 0)
    }

    public func fanOut(_ steps: Int, sink: any ProgressSink & Sendable) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for step in 0..<steps { group.addTask { try await sink.progress(step + 1, of: steps) } }
            try await group.waitForAll()
        }
    }
}

/// The answerer ``JobRunner/run(_:progress:)`` passes back.
struct FixedAnswerer: Answerer {
    func answer(_ question: String) async throws -> String { "the callee, asked \(question)" }
}

/// The caller's side of ``ProgressSink``: records the steps, answers by asking back.
public final class RecordingSink: ProgressSink, Sendable {
    private let recorded = Mutex<[Int]>([])

    public init() {}

    public var steps: [Int] { recorded.withLock { $0 } }

    public func progress(_ done: Int, of total: Int) async throws {
        recorded.withLock { $0.append(done) }
    }

    public func ask(_ question: String, answerer: any Answerer & Sendable) async throws -> String {
        "the caller heard: \(try await answerer.answer(question))"
    }
}
