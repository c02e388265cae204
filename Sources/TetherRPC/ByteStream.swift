import TetherMux
import TetherReactor

/// Raw bytes passed to or returned from a plugin call: the rest of the call's mux stream in one
/// direction, without MessagePack framing and without a copy in Tether's code.
///
/// Made locally from a producer (``init(_:)``, ``init(slices:)``, ``init(copying:)``), it runs when
/// the runtime sends it: each ``ByteStreamWriter/write(_:)-(BufferSlice)`` hands the caller's
/// buffers to the mux and waits while the receiver's window is full, so a consumer that stops
/// reading stops the producer. Received from the other side, it is an `AsyncSequence` of the
/// slices the bytes arrived in (slices of the reactor's receive buffers, see
/// ``TetherReactor/BufferSlice/holdsReceiveBuffer``): read them and let them go, or
/// ``TetherReactor/BufferSlice/copied()`` what you keep. A received stream can be iterated once; a
/// second iterator throws ``RPCError/Code-swift.struct/streamConsumed``.
///
/// How a received stream ends: `nil` at the sender's end (all bytes arrived);
/// ``RPCError/Code-swift.struct/streamReset`` when the sender reset it first (its producer failed
/// or it gave up the call: the bytes that arrived are not all of them);
/// ``RPCError/Code-swift.struct/deadlineExceeded`` when the call's deadline passed (a caller's
/// deadline covers the whole transfer); `CancellationError` when the reading task is cancelled
/// (the stream is reset, which stops the producer). On the caller's side, dropping a received
/// stream before its end resets it too; a callee's handler that drops the caller's bytes unread
/// leaves them to its call's end (the caller's producer waits on the window until then).
///
/// A callee whose caller resets the call (the caller's producer failed, or it was cancelled) is
/// cancelled: its read of the caller's bytes throws `CancellationError`, or `streamReset` when
/// it read the reset first.
public struct ByteStream: AsyncSequence, Sendable {
    public typealias Element = BufferSlice

    enum Source: Sendable {
        case producer(@Sendable (ByteStreamWriter) async throws -> Void)
        case remote(RPCRemoteBytes)
    }

    let source: Source

    /// A stream of what `produce` writes; it ends when `produce` returns and fails with what
    /// `produce` throws (the receiver sees ``RPCError/Code-swift.struct/streamReset``).
    public init(_ produce: @escaping @Sendable (ByteStreamWriter) async throws -> Void) {
        self.source = .producer(produce)
    }

    /// A stream of `slices`, in order, sent as they are (no copy).
    public init<Slices: Sequence & Sendable>(slices: Slices) where Slices.Element == BufferSlice {
        self.source = .producer { writer in
            for slice in slices { try await writer.write(slice) }
        }
    }

    /// A stream of a copy of `bytes` (one copy, made here).
    public init(copying bytes: some Collection<UInt8>) {
        let slice = BufferSlice(copying: bytes)
        self.init(slices: [slice])
    }

    init(remote: RPCRemoteBytes) {
        self.source = .remote(remote)
    }

    public func makeAsyncIterator() -> Iterator {
        switch source {
        case .producer(let produce):
            return Iterator(
                kind: .local(
                    RPCLocalIteration<BufferSlice> { writer in
                        try await produce(
                            ByteStreamWriter { slices in for slice in slices { try await writer.yield(slice) } })
                    }))
        case .remote(let bytes):
            if let reader = bytes.takeReader() { return Iterator(kind: .remote(reader)) }
            return Iterator(kind: .consumed)
        }
    }

    /// Every byte of the stream in one array, read to its end.
    ///
    /// - Throws: ``RPCError/Code-swift.struct/resourceExhausted`` as soon as more than `maxBytes`
    ///   arrive (the stream is then dropped, which resets a received one), and whatever ends the
    ///   stream early.
    public func collect(upTo maxBytes: Int) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        for try await slice in self {
            guard bytes.count + slice.count <= maxBytes else {
                throw RPCError(.resourceExhausted, "the byte stream is longer than \(maxBytes) bytes")
            }
            bytes += slice.bytes
        }
        return bytes
    }

    public struct Iterator: AsyncIteratorProtocol {
        enum Kind {
            case local(RPCLocalIteration<BufferSlice>)
            case remote(RPCByteReader)
            case consumed
        }

        var kind: Kind

        /// The next slice of bytes (never empty), or nil at the end of the stream.
        public mutating func next() async throws -> BufferSlice? {
            switch kind {
            case .local(let iteration):
                while let slice = try await iteration.next() {
                    if !slice.isEmpty { return slice }
                }
                return nil
            case .remote(let reader):
                return try await reader.next()
            case .consumed:
                throw RPCError(.streamConsumed, "a received byte stream can be iterated once")
            }
        }
    }

    /// Runs the stream, handing its slices to `body` in order: a local producer writes straight
    /// to `body` (no handoff, no task); a received stream is read (a proxy forwards the slices it
    /// received without copying them).
    func forEachChunk(_ body: @escaping @Sendable ([BufferSlice]) async throws -> Void) async throws {
        switch source {
        case .producer(let produce):
            try await produce(ByteStreamWriter(send: body))
        case .remote:
            for try await slice in self { try await body([slice]) }
        }
    }
}

/// Hands the bytes of a ``ByteStream`` to whoever consumes it.
public struct ByteStreamWriter: Sendable {
    let send: @Sendable ([BufferSlice]) async throws -> Void

    /// Sends `slice` as it is (the consumer gets this buffer, not a copy); suspends until the
    /// consumer can take it (the peer's window has room, or the local iterator asked for it).
    ///
    /// - Throws: `CancellationError` or an ``RPCError`` when the consumer went away; stop producing.
    public func write(_ slice: BufferSlice) async throws {
        guard !slice.isEmpty else { return }
        try await send([slice])
    }

    /// Sends `slices` in order, as ``write(_:)-(BufferSlice)`` sends one.
    public func write(_ slices: [BufferSlice]) async throws {
        // Empty slices are dropped; the array is copied only when it has one.
        let sent = slices.contains(where: \.isEmpty) ? slices.filter { !$0.isEmpty } : slices
        guard !sent.isEmpty else { return }
        try await send(sent)
    }

    /// Sends a copy of `bytes` (one copy, made here); prefer ``write(_:)-(BufferSlice)``.
    public func write(copying bytes: some Collection<UInt8>) async throws {
        try await write(BufferSlice(copying: bytes))
    }
}
