/// A FIFO ring of elements that grows by doubling and never shrinks: no allocation once warm. A
/// popped element is let go of at once, so what the ring holds is what is queued.
///
/// The one queue of the project: the reactor's job, callback and chunk queues, the mux's stream
/// records (their unread slices) and the yamux state machine's accept queue (bounded by its
/// owner). `@inlinable`, so each module specializes it for its elements.
public struct FIFO<Element> {
    /// Empty until the first append; then a power of two, so an index wraps with a mask.
    @usableFromInline var storage: [Element?] = []
    @usableFromInline var head = 0
    @usableFromInline var _count = 0

    @inlinable public init() {}

    @inlinable public var count: Int { _count }

    @inlinable public var isEmpty: Bool { _count == 0 }

    @inlinable public mutating func append(_ element: Element) {
        if count == storage.count { grow() }
        storage[(head + count) & (storage.count - 1)] = element
        _count += 1
    }

    @inlinable public mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = storage[head]
        storage[head] = nil
        head = (head + 1) & (storage.count - 1)
        _count -= 1
        return element
    }

    @inlinable public var first: Element? { count > 0 ? storage[head] : nil }

    @inlinable public mutating func removeAll() {
        while popFirst() != nil {}
    }

    /// Calls `body` with each queued element, oldest first.
    @inlinable public func forEach(_ body: (Element) -> Void) {
        for offset in 0..<count {
            if let element = storage[(head + offset) & (storage.count - 1)] { body(element) }
        }
    }

    /// Lets `body` replace each queued element in place, oldest first.
    @inlinable public mutating func updateEach(_ body: (inout Element) -> Void) {
        for offset in 0..<count {
            let index = (head + offset) & (storage.count - 1)
            guard var element = storage[index] else { continue }
            storage[index] = nil
            body(&element)
            storage[index] = element
        }
    }

    /// Slots the ring has room for without growing (its storage, for tests of what it holds).
    @inlinable public var capacity: Int { storage.count }

    @inlinable mutating func grow() {
        var grown = [Element?](repeating: nil, count: max(4, storage.count * 2))
        for index in 0..<count { grown[index] = storage[(head + index) & (storage.count - 1)] }
        storage = grown
        head = 0
    }

    /// Removes the elements matching `predicate`, keeping the order of the rest. O(count).
    @inlinable public mutating func removeAll(where predicate: (Element) -> Bool) {
        var kept = 0
        for offset in 0..<_count {
            let index = (head + offset) & (storage.count - 1)
            guard let element = storage[index] else { continue }
            storage[index] = nil
            if !predicate(element) {
                storage[(head + kept) & (storage.count - 1)] = element
                kept += 1
            }
        }
        _count = kept
    }
}

extension FIFO: Sendable where Element: Sendable {}
