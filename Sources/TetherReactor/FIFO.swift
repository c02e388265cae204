/// A FIFO ring of elements that grows by doubling and never shrinks: no allocation once warm.
struct FIFO<Element> {
    private var storage: [Element?] = Array(repeating: nil, count: 16)
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(_ element: Element) {
        if count == storage.count { grow() }
        storage[(head + count) & (storage.count - 1)] = element
        count += 1
    }

    mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = storage[head]
        storage[head] = nil
        head = (head + 1) & (storage.count - 1)
        count -= 1
        return element
    }

    var first: Element? { count > 0 ? storage[head] : nil }

    mutating func removeAll() {
        while popFirst() != nil {}
    }

    private mutating func grow() {
        var grown = [Element?](repeating: nil, count: storage.count * 2)
        for index in 0..<count { grown[index] = storage[(head + index) & (storage.count - 1)] }
        storage = grown
        head = 0
    }
}
