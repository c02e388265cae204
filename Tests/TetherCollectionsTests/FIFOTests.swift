import Testing
import TetherCollections

@Suite("FIFO")
struct FIFOTests {
    @Test("elements come out in order across wrap-arounds and growth")
    func orderAcrossWrapAndGrowth() {
        var queue = FIFO<Int>()
        #expect(queue.capacity == 0)
        var next = 0
        var expected = 0
        // Interleaved appends and pops move the head around the ring while it grows.
        for round in 1...50 {
            for _ in 0..<round {
                queue.append(next)
                next += 1
            }
            for _ in 0..<(round / 2) {
                #expect(queue.popFirst() == expected)
                expected += 1
            }
        }
        #expect(queue.count == next - expected)
        #expect(queue.first == expected)
        while let element = queue.popFirst() {
            #expect(element == expected)
            expected += 1
        }
        #expect(expected == next)
        #expect(queue.isEmpty)
        #expect(queue.capacity.nonzeroBitCount == 1, "a power of two")
    }

    @Test("removeAll(where:) keeps the order of the rest, wrapped or not")
    func removeWhereKeepsOrder() {
        var queue = FIFO<Int>()
        for element in 0..<6 { queue.append(element) }
        #expect(queue.capacity == 8)
        // Move the head so the elements wrap around the end of the 8-slot storage.
        for _ in 0..<5 { _ = queue.popFirst() }
        for element in 6..<12 { queue.append(element) }
        queue.removeAll { $0 % 3 == 0 }
        var rest: [Int] = []
        queue.forEach { rest.append($0) }
        #expect(rest == [5, 7, 8, 10, 11])
        #expect(queue.count == 5)
    }

    @Test("a popped element is let go of at once")
    func poppedElementIsReleased() {
        final class Token {}
        var queue = FIFO<Token>()
        weak var weakToken: Token?
        do {
            let token = Token()
            weakToken = token
            queue.append(token)
        }
        #expect(weakToken != nil)
        _ = queue.popFirst()
        #expect(weakToken == nil)
    }

    @Test("updateEach replaces in place, oldest first")
    func updateEachInPlace() {
        var queue = FIFO<Int>()
        for element in 1...5 { queue.append(element) }
        _ = queue.popFirst()
        var seen: [Int] = []
        queue.updateEach { element in
            seen.append(element)
            element *= 10
        }
        #expect(seen == [2, 3, 4, 5])
        var after: [Int] = []
        queue.forEach { after.append($0) }
        #expect(after == [20, 30, 40, 50])
    }
}
