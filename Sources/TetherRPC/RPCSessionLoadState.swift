/// What the calls of one session hold in an ``RPCServer``, and the server's decisions about it:
/// whether a call may start (``RPCConfiguration/maxConcurrentCallsPerSession``).
///
/// A value without I/O or locks: `RPCSessionLoad` keeps one behind a mutex and carries out what
/// it decides (resumes the waiters it names).
struct RPCSessionLoadState {
    let maxConcurrentCalls: Int

    private(set) var activeCalls = 0
    private(set) var peakActiveCalls = 0
    /// Who waits for a call slot, first come first served.
    private(set) var slotWaiters: [UInt64] = []
    /// Who waits for a slot to be free without taking it (an accept loop, which takes one once
    /// it has a stream).
    private(set) var roomWaiters: [UInt64] = []

    init(maxConcurrentCalls: Int) {
        self.maxConcurrentCalls = maxConcurrentCalls
    }

    // MARK: Calls

    /// Whether a call could start now: a slot is free and nobody waits for one.
    var hasRoom: Bool { slotWaiters.isEmpty && activeCalls < maxConcurrentCalls }

    /// Starts a call if ``hasRoom``; otherwise false.
    mutating func startCallIfRoom() -> Bool {
        guard hasRoom else { return false }
        activeCalls += 1
        peakActiveCalls = max(peakActiveCalls, activeCalls)
        return true
    }

    /// Starts a call if ``hasRoom``; otherwise queues `waiter` and returns false (``endCall()``
    /// hands it the next free slot).
    mutating func startCall(waiter: UInt64) -> Bool {
        if startCallIfRoom() { return true }
        slotWaiters.append(waiter)
        return false
    }

    /// ``hasRoom``, or else queues `waiter`, which ``endCall()`` names once a slot is free.
    /// Takes nothing: an accept loop waits here before accepting a stream, so that streams it
    /// cannot serve yet stay in the mux.
    mutating func hasRoom(waiter: UInt64) -> Bool {
        if hasRoom { return true }
        roomWaiters.append(waiter)
        return false
    }

    /// A waiter gave up (its task was cancelled). False when it was not waiting any more: the
    /// slot was already handed to it, or it was told there is room.
    mutating func stopWaiting(_ waiter: UInt64) -> Bool {
        if let index = slotWaiters.firstIndex(of: waiter) {
            slotWaiters.remove(at: index)
            return true
        }
        if let index = roomWaiters.firstIndex(of: waiter) {
            roomWaiters.remove(at: index)
            return true
        }
        return false
    }

    /// A call ended. Its slot goes straight to the first waiter for a slot (`handedTo`: its
    /// call has started); with nobody waiting for one the slot is free, and everyone waiting
    /// for room is told (`room`).
    mutating func endCall() -> (handedTo: UInt64?, room: [UInt64]) {
        precondition(activeCalls > 0, "a call ended that did not start")
        if !slotWaiters.isEmpty { return (slotWaiters.removeFirst(), []) }
        activeCalls -= 1
        defer { roomWaiters.removeAll() }
        return (nil, roomWaiters)
    }

    var snapshot: RPCServerSessionLoad {
        RPCServerSessionLoad(activeCalls: activeCalls, peakActiveCalls: peakActiveCalls)
    }
}

/// What the calls of one session hold in an ``RPCServer`` now, and the most they held
/// (see ``RPCServer/load(of:)``).
public struct RPCServerSessionLoad: Sendable, Hashable {
    /// Calls running now (counted against ``RPCConfiguration/maxConcurrentCallsPerSession``).
    public var activeCalls: Int
    /// The most calls that ran at once.
    public var peakActiveCalls: Int

    public init(activeCalls: Int = 0, peakActiveCalls: Int = 0) {
        self.activeCalls = activeCalls
        self.peakActiveCalls = peakActiveCalls
    }
}
