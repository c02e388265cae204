/// A first-in first-out queue with a fixed capacity, stored as a ring so that popping is O(1)
/// and the storage never grows past `capacity`.
@usableFromInline struct BoundedQueue<Element: Sendable>: Sendable {
    @usableFromInline var storage: [Element?]
    @usableFromInline var head = 0
    @usableFromInline var count = 0

    @inlinable init(capacity: Int) {
        precondition(capacity > 0, "queue capacity must be positive")
        storage = Array(repeating: nil, count: capacity)
    }

    @usableFromInline var capacity: Int { storage.count }
    @usableFromInline var isEmpty: Bool { count == 0 }
    @usableFromInline var isFull: Bool { count == storage.count }

    /// Appends `element`; returns `false` (and drops nothing) when the queue is full.
    @discardableResult
    @inlinable mutating func append(_ element: Element) -> Bool {
        guard !isFull else { return false }
        storage[(head + count) % storage.count] = element
        count += 1
        return true
    }

    @inlinable mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = storage[head]
        storage[head] = nil
        head = (head + 1) % storage.count
        count -= 1
        return element
    }

    /// Removes the elements matching `predicate`, keeping the order of the rest. O(count).
    @inlinable mutating func removeAll(where predicate: (Element) -> Bool) {
        var kept = 0
        for offset in 0..<count {
            let index = (head + offset) % storage.count
            guard let element = storage[index] else { continue }
            storage[index] = nil
            if !predicate(element) {
                storage[(head + kept) % storage.count] = element
                kept += 1
            }
        }
        count = kept
    }
}
