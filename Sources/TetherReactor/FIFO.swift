/// A FIFO ring of elements that grows by doubling and never shrinks: no allocation once warm. A
/// popped element is let go of at once, so what the ring holds is what is queued.
///
/// The reactor's job, callback and chunk queues use it, and so do the mux's stream records
/// (their unread slices).
package struct FIFO<Element> {
    /// Empty until the first append; then a power of two, so an index wraps with a mask.
    private var storage: [Element?] = []
    private var head = 0
    package private(set) var count = 0

    package init() {}

    package var isEmpty: Bool { count == 0 }

    package mutating func append(_ element: Element) {
        if count == storage.count { grow() }
        storage[(head + count) & (storage.count - 1)] = element
        count += 1
    }

    package mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = storage[head]
        storage[head] = nil
        head = (head + 1) & (storage.count - 1)
        count -= 1
        return element
    }

    package var first: Element? { count > 0 ? storage[head] : nil }

    package mutating func removeAll() {
        while popFirst() != nil {}
    }

    /// Calls `body` with each queued element, oldest first.
    package func forEach(_ body: (Element) -> Void) {
        for offset in 0..<count {
            if let element = storage[(head + offset) & (storage.count - 1)] { body(element) }
        }
    }

    /// Lets `body` replace each queued element in place, oldest first.
    package mutating func updateEach(_ body: (inout Element) -> Void) {
        for offset in 0..<count {
            let index = (head + offset) & (storage.count - 1)
            guard var element = storage[index] else { continue }
            storage[index] = nil
            body(&element)
            storage[index] = element
        }
    }

    /// Slots the ring has room for without growing (its storage, for tests of what it holds).
    package var capacity: Int { storage.count }

    private mutating func grow() {
        var grown = [Element?](repeating: nil, count: max(4, storage.count * 2))
        for index in 0..<count { grown[index] = storage[(head + index) & (storage.count - 1)] }
        storage = grown
        head = 0
    }
}

extension FIFO: Sendable where Element: Sendable {}
