import Testing

@testable import TetherYamux

private let kib: UInt32 = 1024
private let millisecond: UInt64 = 1_000_000

@Suite("Receive window")
struct ReceiveWindowTests {
    @Test("starts with the implicit 256 KiB of credit")
    func initial() {
        let window = ReceiveWindow()
        #expect(window.availableBytes == 262_144)
        #expect(window.maxWindowBytes == 262_144)
        #expect(window.bufferedBytes == 0)
    }

    @Test("receiving up to the window is fine, one byte more overflows")
    func overflow() throws {
        var window = ReceiveWindow()
        try window.receive(256 * kib - 1)
        try window.receive(1)
        #expect(window.availableBytes == 0)
        #expect(window.bufferedBytes == 256 * kib)
        #expect(throws: MuxError(.receiveWindowExceeded, value: 1)) { try window.receive(1) }
    }

    @Test("a single frame larger than the window overflows")
    func overflowSingleFrame() {
        var window = ReceiveWindow()
        #expect(throws: MuxError(.receiveWindowExceeded, value: 262_145)) { try window.receive(256 * kib + 1) }
        #expect(window.availableBytes == 256 * kib)
    }

    @Test("an update is due only once half the window was consumed (yamux's rule)")
    func threshold() throws {
        var window = ReceiveWindow()
        try window.receive(200 * kib)
        // delta = (256 − 100) − 56 = 100 KiB < 128 KiB: no update.
        #expect(window.consume(100 * kib, nowNanoseconds: 0, rttNanoseconds: nil, budgetBytes: 0) == nil)
        // delta = (256 − 72) − 56 = 128 KiB: exactly half, update.
        let update = window.consume(28 * kib, nowNanoseconds: 0, rttNanoseconds: nil, budgetBytes: 0)
        #expect(update == ReceiveWindow.Update(deltaBytes: 128 * kib, budgetTakenBytes: 0))
        #expect(window.availableBytes == 184 * kib)
        #expect(window.bufferedBytes == 72 * kib)
        // The peer can never have more in flight plus buffered than the window.
        #expect(window.availableBytes + window.bufferedBytes == window.maxWindowBytes)
    }

    @Test("buffered bytes hold back credit: a slow reader gets backpressure")
    func backpressure() throws {
        var window = ReceiveWindow()
        try window.receive(256 * kib)
        #expect(throws: MuxError.self) { try window.receive(1) }
        let update = window.consume(256 * kib, nowNanoseconds: 0, rttNanoseconds: nil, budgetBytes: 0)
        #expect(update?.deltaBytes == 256 * kib)
        try window.receive(256 * kib)
    }

    @Test("the opening update grants the window beyond the implicit 256 KiB, even when zero")
    func openingUpdate() {
        var small = ReceiveWindow()
        #expect(small.openingUpdate(nowNanoseconds: 0) == 0)
        var large = ReceiveWindow(maxWindowBytes: 1024 * kib)
        #expect(large.openingUpdate(nowNanoseconds: 0) == 768 * kib)
        #expect(large.availableBytes == 1024 * kib)
    }

    @Test("auto-tuning doubles the window when updates come within two round trips, up to the cap")
    func autotuneDoubling() throws {
        var window = ReceiveWindow(maxWindowBytes: 256 * kib, capWindowBytes: 1024 * kib)
        let rtt = 1 * millisecond
        let budget: UInt64 = 100 << 20
        var now: UInt64 = 0
        // First update: no earlier update to compare with, no growth.
        try window.receive(128 * kib)
        var update = window.consume(128 * kib, nowNanoseconds: now, rttNanoseconds: rtt, budgetBytes: budget)
        #expect(update == ReceiveWindow.Update(deltaBytes: 128 * kib, budgetTakenBytes: 0))

        now += rtt  // 1 ms later < 2 ms: double to 512 KiB.
        try window.receive(128 * kib)
        update = window.consume(128 * kib, nowNanoseconds: now, rttNanoseconds: rtt, budgetBytes: budget)
        #expect(update == ReceiveWindow.Update(deltaBytes: 384 * kib, budgetTakenBytes: 256 * 1024))
        #expect(window.maxWindowBytes == 512 * kib)
        #expect(window.availableBytes == 512 * kib)

        now += rtt
        try window.receive(256 * kib)
        update = window.consume(256 * kib, nowNanoseconds: now, rttNanoseconds: rtt, budgetBytes: budget)
        #expect(update == ReceiveWindow.Update(deltaBytes: 768 * kib, budgetTakenBytes: 512 * 1024))
        #expect(window.maxWindowBytes == 1024 * kib)

        now += rtt  // At the cap: no more growth.
        try window.receive(512 * kib)
        update = window.consume(512 * kib, nowNanoseconds: now, rttNanoseconds: rtt, budgetBytes: budget)
        #expect(update == ReceiveWindow.Update(deltaBytes: 512 * kib, budgetTakenBytes: 0))
        #expect(window.maxWindowBytes == 1024 * kib)
        #expect(window.grownBytes == 768 * 1024)
    }

    @Test("no growth when updates are slower than two round trips")
    func autotuneSlow() throws {
        var window = ReceiveWindow(maxWindowBytes: 256 * kib, capWindowBytes: 1024 * kib)
        try window.receive(128 * kib)
        _ = window.consume(128 * kib, nowNanoseconds: 0, rttNanoseconds: millisecond, budgetBytes: 1 << 30)
        try window.receive(128 * kib)
        let update = window.consume(
            128 * kib, nowNanoseconds: 2 * millisecond, rttNanoseconds: millisecond, budgetBytes: 1 << 30)
        #expect(update == ReceiveWindow.Update(deltaBytes: 128 * kib, budgetTakenBytes: 0))
        #expect(window.maxWindowBytes == 256 * kib)
    }

    @Test("growth is limited by the session budget and needs a round-trip estimate")
    func autotuneBudget() throws {
        var window = ReceiveWindow(maxWindowBytes: 256 * kib, capWindowBytes: 1024 * kib)
        try window.receive(128 * kib)
        _ = window.consume(128 * kib, nowNanoseconds: 0, rttNanoseconds: nil, budgetBytes: 1 << 30)
        try window.receive(128 * kib)
        var update = window.consume(128 * kib, nowNanoseconds: 1, rttNanoseconds: nil, budgetBytes: 1 << 30)
        #expect(update?.budgetTakenBytes == 0)
        try window.receive(128 * kib)
        update = window.consume(128 * kib, nowNanoseconds: 2, rttNanoseconds: millisecond, budgetBytes: 10_000)
        #expect(update == ReceiveWindow.Update(deltaBytes: 128 * kib + 10_000, budgetTakenBytes: 10_000))
        #expect(window.maxWindowBytes == 256 * kib + 10_000)
    }
}

@Suite("Send window")
struct SendWindowTests {
    @Test("takes the minimum of credit, wanted bytes and frame size")
    func take() {
        var window = SendWindow()
        #expect(window.take(wantedBytes: 100_000, maxFrameBytes: 65_536) == 65_536)
        #expect(window.take(wantedBytes: 1_000, maxFrameBytes: 65_536) == 1_000)
        #expect(window.creditBytes == 262_144 - 66_536)
        #expect(window.take(wantedBytes: 1 << 20, maxFrameBytes: 1 << 20) == 262_144 - 66_536)
        #expect(window.take(wantedBytes: 10, maxFrameBytes: 65_536) == 0)
    }

    @Test("grants add credit")
    func grant() throws {
        var window = SendWindow()
        _ = window.take(wantedBytes: 262_144, maxFrameBytes: 1 << 20)
        try window.grant(5)
        #expect(window.creditBytes == 5)
    }

    @Test("a grant past UInt32.max is a protocol error and changes nothing")
    func grantOverflow() throws {
        var window = SendWindow()
        try window.grant(UInt32.max - 262_144)
        #expect(window.creditBytes == .max)
        #expect(throws: MuxError(.sendWindowOverflow, value: 1)) { try window.grant(1) }
        #expect(window.creditBytes == .max)
    }
}
