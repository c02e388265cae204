import Synchronization
@_exported import TetherPluginInterface

/// What a plugin process's ``Store`` has seen, for a test in another process: the counters the
/// in-process tests read directly.
@PluginInterface
public protocol StoreProbe {
    /// How many ``Store/block()`` handlers have started.
    func startedBlocks() async throws -> Int
    /// How many handlers ended by their cancellation (the caller's reset or the call's deadline).
    func cancelledHandlers() async throws -> Int
}

/// The callee's side of ``StoreProbe``: reads the counters of `store`.
public final class StoreCounters: StoreProbe, Sendable {
    private let store: Store

    public init(_ store: Store) {
        self.store = store
    }

    public func startedBlocks() async throws -> Int { store.startedBlocks.load(ordering: .relaxed) }

    public func cancelledHandlers() async throws -> Int { store.cancelledHandlers.load(ordering: .relaxed) }
}

/// A method that takes both a callback and a byte stream.
@PluginInterface
public protocol ReportedUploads {
    /// Reads `data` to its end, telling `progress` the bytes read so far (of `expected`) after
    /// each slice, and checks them against ``BlobPattern`` with `seed`.
    func upload(_ data: ByteStream, expected: Int, seed: UInt8, progress: any ProgressSink & Sendable) async throws
        -> BlobCheck
}

/// The callee's side of ``ReportedUploads``.
public final class ReportingUploader: ReportedUploads, Sendable {
    public init() {}

    public func upload(_ data: ByteStream, expected: Int, seed: UInt8, progress: any ProgressSink & Sendable)
        async throws -> BlobCheck
    {
        var count = 0
        var mismatch: Int?
        for try await slice in data {
            if mismatch == nil { mismatch = BlobPattern.firstMismatch(in: slice, at: count, seed: seed) }
            count += slice.count
            try await progress.progress(count, of: expected)
        }
        return BlobCheck(byteCount: count, firstMismatch: mismatch)
    }
}

/// A handler that gives up on its own.
@PluginInterface
public protocol GivesUp {
    /// Throws `CancellationError` without being cancelled: what a handler does when something
    /// it waits for was cancelled under it.
    func giveUp() async throws
}

/// The callee's side of ``GivesUp``.
public final class GivingUp: GivesUp, Sendable {
    public init() {}

    public func giveUp() async throws { throw CancellationError() }
}
