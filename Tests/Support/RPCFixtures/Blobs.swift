import Synchronization
@_exported import TetherPluginInterface

/// What ``Blobs/upload(_:seed:)`` found: how many bytes arrived and where the first one differs
/// from the pattern (nil: all match).
public struct BlobCheck: Codable, Sendable, Equatable {
    public var byteCount: Int
    public var firstMismatch: Int?

    public init(byteCount: Int, firstMismatch: Int?) {
        self.byteCount = byteCount
        self.firstMismatch = firstMismatch
    }
}

/// The failure a download's producer throws mid-stream.
public struct BlobProducerFailed: Error, Codable, Equatable {
    public init() {}
}

/// Byte streams both ways, for the RPC tests.
@PluginInterface
public protocol Blobs {
    /// Reads `data` to its end and checks it against ``BlobPattern`` with `seed`.
    func upload(_ data: ByteStream, seed: UInt8) async throws -> BlobCheck
    /// `byteCount` pattern bytes in writes of `chunkBytes`; throws ``BlobProducerFailed`` once
    /// `failAfter` bytes are written, if set.
    func download(seed: UInt8, byteCount: Int, chunkBytes: Int, failAfter: Int?) async throws -> ByteStream
    /// `byteCount` pattern bytes, then waits until cancelled (the stream never ends by itself).
    func trickle(seed: UInt8, byteCount: Int) async throws -> ByteStream
    /// The bytes of `data` as they arrived (forwarded, not copied).
    func echo(_ data: ByteStream) async throws -> ByteStream
    /// Reads nothing until ``BlobStore/openGate()``, then `readBytes` of `data` at most, and
    /// returns how many it read (stopping early leaves the rest unread).
    func hold(_ data: ByteStream, readBytes: Int) async throws -> Int
}

/// The bytes tests send and check: each depends on its position, so a lost, repeated or
/// reordered chunk is found at its first byte.
public enum BlobPattern {
    public static func byte(at position: Int, seed: UInt8) -> UInt8 {
        UInt8(truncatingIfNeeded: position ^ (position >> 8) &* 7 ^ (position >> 16) &* 13) ^ seed
    }

    public static func slice(from start: Int, count: Int, seed: UInt8) -> BufferSlice {
        BufferSlice(count: count) { span in
            for index in 0..<count { span[index] = byte(at: start + index, seed: seed) }
        }
    }

    /// A producer of `byteCount` pattern bytes in writes of `chunkBytes`, telling `written` the
    /// bytes of each write that returned.
    public static func stream(
        byteCount: Int, chunkBytes: Int = 50_000, seed: UInt8, written: (@Sendable (Int) -> Void)? = nil
    ) -> ByteStream {
        ByteStream { writer in
            var sent = 0
            while sent < byteCount {
                let count = min(chunkBytes, byteCount - sent)
                try await writer.write(slice(from: sent, count: count, seed: seed))
                sent += count
                written?(count)
            }
        }
    }

    /// The position of the first byte of `slice` (starting at stream position `start`) that
    /// differs from the pattern.
    public static func firstMismatch(in slice: BufferSlice, at start: Int, seed: UInt8) -> Int? {
        slice.withSpan { span in
            for index in span.indices where span[index] != byte(at: start + index, seed: seed) {
                return start + index
            }
            return nil
        }
    }
}

/// The implementation, recording what a test needs to see of the callee's side.
public final class BlobStore: Blobs, Sendable {
    /// Bytes the download producers have had accepted by the stream (written and returned).
    public let producedBytes = Atomic<Int>(0)
    /// Producers and consumers here that ended with an error (cancelled, reset, failed).
    public let interruptions = Atomic<Int>(0)
    /// The `RPCError` code (or type name) of each interruption, in order.
    public let interruptionReasons = Mutex<[String]>([])
    /// Bytes ``hold(_:readBytes:)`` read so far.
    public let heldBytesRead = Atomic<Int>(0)
    private let gate = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    public init() {}

    /// Lets ``hold(_:readBytes:)`` read.
    public func openGate() {
        let waiters = gate.withLock { gate in
            gate.open = true
            defer { gate.waiters = [] }
            return gate.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    private func waitForGate() async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let open = gate.withLock { gate in
                if !gate.open { gate.waiters.append(waiter) }
                return gate.open
            }
            if open { waiter.resume() }
        }
    }

    private func interrupted(by error: any Error) {
        let reason = (error as? RPCError)?.code.name ?? String(describing: type(of: error))
        interruptionReasons.withLock { $0.append(reason) }
        interruptions.add(1, ordering: .relaxed)
    }

    public func upload(_ data: ByteStream, seed: UInt8) async throws -> BlobCheck {
        var count = 0
        var mismatch: Int?
        do {
            for try await slice in data {
                if mismatch == nil { mismatch = BlobPattern.firstMismatch(in: slice, at: count, seed: seed) }
                count += slice.count
            }
        } catch {
            interrupted(by: error)
            throw error
        }
        return BlobCheck(byteCount: count, firstMismatch: mismatch)
    }

    public func download(seed: UInt8, byteCount: Int, chunkBytes: Int, failAfter: Int?) async throws -> ByteStream {
        ByteStream { writer in
            var sent = 0
            do {
                while sent < byteCount {
                    if let failAfter, sent >= failAfter { throw BlobProducerFailed() }
                    let count = min(chunkBytes, byteCount - sent)
                    try await writer.write(BlobPattern.slice(from: sent, count: count, seed: seed))
                    sent += count
                    self.producedBytes.add(count, ordering: .relaxed)
                }
            } catch {
                self.interrupted(by: error)
                throw error
            }
        }
    }

    public func trickle(seed: UInt8, byteCount: Int) async throws -> ByteStream {
        ByteStream { writer in
            do {
                try await writer.write(BlobPattern.slice(from: 0, count: byteCount, seed: seed))
                while true { try await Task.sleep(for: .seconds(60)) }
            } catch {
                self.interrupted(by: error)
                throw error
            }
        }
    }

    public func echo(_ data: ByteStream) async throws -> ByteStream {
        data
    }

    public func hold(_ data: ByteStream, readBytes: Int) async throws -> Int {
        await waitForGate()
        do {
            try Task.checkCancellation()
            var read = 0
            for try await slice in data {
                read += slice.count
                heldBytesRead.add(slice.count, ordering: .relaxed)
                if read >= readBytes { break }
            }
            return read
        } catch {
            interrupted(by: error)
            throw error
        }
    }
}
