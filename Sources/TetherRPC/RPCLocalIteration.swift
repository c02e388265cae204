import Synchronization

/// Iterating a locally produced ``RPCStream``: the producer runs in its own task and hands over
/// one element at a time — `yield` returns only once the iterator took the element, so nothing
/// piles up. Dropping the iterator (or cancelling its task) cancels the producer.
final class RPCLocalIteration<Element: Sendable>: Sendable {
    private let handoff = RPCHandoff<Element>()
    private let producer: Task<Void, Never>

    init(_ produce: @escaping @Sendable (RPCStreamWriter<Element>) async throws -> Void) {
        let handoff = self.handoff
        producer = Task {
            do {
                try await produce(RPCStreamWriter { try await handoff.send($0) })
                handoff.finish(nil)
            } catch {
                handoff.finish(error)
            }
        }
    }

    func next() async throws -> Element? {
        let handoff = self.handoff
        let producer = self.producer
        return try await withTaskCancellationHandler {
            try await handoff.receive()
        } onCancel: {
            handoff.consumerLeft()
            producer.cancel()
        }
    }

    deinit {
        handoff.consumerLeft()
        producer.cancel()
    }
}

/// A rendezvous between one producer and one consumer.
final class RPCHandoff<Element: Sendable>: Sendable {
    private struct State {
        var offered: (element: Element, producer: CheckedContinuation<Void, any Error>)?
        var consumer: CheckedContinuation<Element?, any Error>?
        /// Set once the producer ended: nil error for a normal end.
        var ended: (any Error)??
        var consumerGone = false
    }

    private let state = Mutex(State())

    /// What a consumer does after looking at the state.
    private enum ReceiveStep {
        case take(Element, CheckedContinuation<Void, any Error>)
        case end((any Error)?)
        case cancelled
        case wait
    }

    /// Waits until the consumer takes `element`.
    func send(_ element: Element) async throws {
        try await withCheckedThrowingContinuation { (producer: CheckedContinuation<Void, any Error>) in
            let consumer = state.withLock { state -> CheckedContinuation<Element?, any Error>?? in
                if state.consumerGone { return .some(nil) }
                if let consumer = state.consumer {
                    state.consumer = nil
                    return consumer
                }
                state.offered = (element, producer)
                return nil
            }
            switch consumer {
            case .some(.some(let consumer)):
                consumer.resume(returning: element)
                producer.resume()
            case .some(.none):
                producer.resume(throwing: CancellationError())
            case .none:
                break
            }
        }
    }

    func receive() async throws -> Element? {
        try await withCheckedThrowingContinuation { (consumer: CheckedContinuation<Element?, any Error>) in
            let step = state.withLock { state -> ReceiveStep in
                if let offered = state.offered {
                    state.offered = nil
                    return .take(offered.element, offered.producer)
                }
                if let ended = state.ended {
                    state.ended = .some(nil)  // report a failure once, then end
                    return .end(ended)
                }
                if state.consumerGone { return .cancelled }
                state.consumer = consumer
                return .wait
            }
            switch step {
            case .take(let element, let producer):
                consumer.resume(returning: element)
                producer.resume()
            case .end(let error):
                if let error { consumer.resume(throwing: error) } else { consumer.resume(returning: nil) }
            case .cancelled:
                consumer.resume(throwing: CancellationError())
            case .wait:
                break
            }
        }
    }

    func finish(_ error: (any Error)?) {
        let consumer = state.withLock { state -> CheckedContinuation<Element?, any Error>? in
            defer { state.consumer = nil }
            // A waiting consumer is told the failure now; otherwise its next receive reports it.
            state.ended = .some(state.consumer == nil ? error : nil)
            return state.consumer
        }
        guard let consumer else { return }
        if let error { consumer.resume(throwing: error) } else { consumer.resume(returning: nil) }
    }

    /// The consumer stopped: a waiting producer fails, a waiting consumer is cancelled.
    func consumerLeft() {
        let (producer, consumer) = state.withLock { state in
            state.consumerGone = true
            defer {
                state.offered = nil
                state.consumer = nil
            }
            return (state.offered?.producer, state.consumer)
        }
        producer?.resume(throwing: CancellationError())
        consumer?.resume(throwing: CancellationError())
    }
}
