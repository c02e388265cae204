/// A stream of values passed to or returned from a plugin call, with backpressure end to end.
///
/// Made locally from a producer (``init(_:)``, ``init(elements:)``, ``init(sequence:)``), it runs
/// when the runtime sends it — each ``RPCStreamWriter/yield(_:)`` waits while the receiver's mux
/// window is full — or when it is iterated here. Received from the other side, it is an
/// `AsyncSequence` that reads the call's stream as it is iterated: a consumer that stops reading
/// stops the sender once the window is used, so memory stays bounded on both sides. A received
/// stream can be iterated once; a second iterator throws
/// ``RPCError/Code-swift.struct/streamConsumed``.
public struct RPCStream<Element: Sendable>: AsyncSequence, Sendable {
    enum Source: Sendable {
        case producer(@Sendable (RPCStreamWriter<Element>) async throws -> Void)
        case remote(RPCRemoteItems<Element>)
    }

    let source: Source

    /// A stream whose elements `produce` writes, one ``RPCStreamWriter/yield(_:)`` each; it ends
    /// when `produce` returns and fails with what `produce` throws.
    public init(_ produce: @escaping @Sendable (RPCStreamWriter<Element>) async throws -> Void) {
        self.source = .producer(produce)
    }

    /// A stream of `elements`.
    public init<Elements: Sequence & Sendable>(elements: Elements) where Elements.Element == Element {
        self.source = .producer { writer in
            for element in elements { try await writer.yield(element) }
        }
    }

    /// A stream of what `sequence` produces.
    public init<Elements: AsyncSequence & Sendable>(sequence: Elements) where Elements.Element == Element {
        self.source = .producer { writer in
            for try await element in sequence { try await writer.yield(element) }
        }
    }

    init(remote: RPCRemoteItems<Element>) {
        self.source = .remote(remote)
    }

    public func makeAsyncIterator() -> Iterator {
        switch source {
        case .producer(let produce):
            return Iterator(kind: .local(RPCLocalIteration(produce)))
        case .remote(let items):
            if let reader = items.takeReader() { return Iterator(kind: .remote(RPCItemReaderBox(reader))) }
            return Iterator(kind: .consumed)
        }
    }

    public struct Iterator: AsyncIteratorProtocol {
        enum Kind {
            case local(RPCLocalIteration<Element>)
            case remote(RPCItemReaderBox<Element>)
            case consumed
        }

        var kind: Kind

        public mutating func next() async throws -> Element? {
            switch kind {
            case .local(let iteration):
                return try await iteration.next()
            case .remote(let box):
                return try await box.reader.next()
            case .consumed:
                throw RPCError(.streamConsumed, "a received stream can be iterated once")
            }
        }
    }

    /// Runs the stream, handing each element to `body` in order: a local producer writes
    /// straight to `body` (no handoff); a received stream is read.
    func forEach(_ body: @escaping @Sendable (Element) async throws -> Void) async throws {
        switch source {
        case .producer(let produce):
            try await produce(RPCStreamWriter(send: body))
        case .remote:
            for try await element in self { try await body(element) }
        }
    }
}

/// The reader of a received stream, owned by its one iterator (a class, so that the reader and
/// its buffer are not copied on every step).
final class RPCItemReaderBox<Element: Sendable> {
    var reader: RPCItemReader<Element>

    init(_ reader: RPCItemReader<Element>) {
        self.reader = reader
    }
}

/// Hands elements of an ``RPCStream`` to whoever consumes it.
public struct RPCStreamWriter<Element: Sendable>: Sendable {
    let send: @Sendable (Element) async throws -> Void

    /// Sends `element`; suspends until the consumer can take it (the peer's window has room, or
    /// the local iterator asked for it).
    ///
    /// - Throws: `CancellationError` or an ``RPCError`` when the consumer went away; stop producing.
    public func yield(_ element: Element) async throws {
        try await send(element)
    }
}
