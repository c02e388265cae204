/// What the calls of one session hold in an ``RPCServer``, and the server's decisions about it:
/// whether a call may start (``RPCConfiguration/maxConcurrentCallsPerSession``), whether an
/// arriving message may be buffered (``RPCConfiguration/maxIncomingMessageBytesPerSession``), and
/// which calls have waited too long for their call message (``RPCConfiguration/callMessageTimeout``).
///
/// A value without I/O or locks: `RPCSessionLoad` keeps one behind a mutex and carries out what
/// it decides (resumes the waiter it names, fails the calls it returns).
struct RPCSessionLoadState {
    let maxConcurrentCalls: Int
    let maxIncomingMessageBytes: Int

    private(set) var activeCalls = 0
    private(set) var peakActiveCalls = 0
    /// Who waits for a call slot, first come first served.
    private(set) var slotWaiters: [UInt64] = []
    /// Who waits for a slot to be free without taking it (an accept loop, which takes one once
    /// it has a stream).
    private(set) var roomWaiters: [UInt64] = []
    private(set) var callMessageTimeouts = 0
    /// Calls whose call message has not arrived yet, by key: their deadline, in nanoseconds of
    /// the owner's clock, and the control that fails them.
    private var awaitingCallMessage: [UInt64: (deadlineNanoseconds: UInt64, control: RPCCallControl)] = [:]
    /// Whether a task is sweeping `awaitingCallMessage` (one per session at most).
    private(set) var isSweeping = false
    /// The latest call-message deadline registered: the sweeper stays until it has passed.
    private var latestDeadlineNanoseconds: UInt64 = 0
    private(set) var incomingMessageBytes = 0
    private(set) var peakIncomingMessageBytes = 0
    private(set) var refusedMessages = 0

    init(maxConcurrentCalls: Int, maxIncomingMessageBytes: Int) {
        self.maxConcurrentCalls = maxConcurrentCalls
        self.maxIncomingMessageBytes = maxIncomingMessageBytes
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

    // MARK: Call-message deadlines

    /// The call `key` waits for its call message until `deadlineNanoseconds`. True when the
    /// caller must start the sweeping task (none runs).
    mutating func awaitCallMessage(key: UInt64, control: RPCCallControl, deadlineNanoseconds: UInt64) -> Bool {
        awaitingCallMessage[key] = (deadlineNanoseconds, control)
        latestDeadlineNanoseconds = max(latestDeadlineNanoseconds, deadlineNanoseconds)
        guard !isSweeping else { return false }
        isSweeping = true
        return true
    }

    /// The call `key` has its call message, or has ended.
    mutating func callMessageWaitEnded(key: UInt64) {
        awaitingCallMessage.removeValue(forKey: key)
    }

    /// Removes and returns the calls whose deadline is at or before `nowNanoseconds`, and when
    /// to look again: the earliest deadline left or, with none left, the latest deadline
    /// registered while it is still ahead. Calls whose message arrives at once come and go
    /// between two looks, so a session with steady traffic keeps one sweeper that wakes about
    /// once per timeout, not a new one per call. Only after a whole timeout with no call does the
    /// sweeping end (``isSweeping`` false; the next
    /// ``awaitCallMessage(key:control:deadlineNanoseconds:)`` asks for a new sweeper).
    mutating func takeOverdueCalls(nowNanoseconds: UInt64) -> (overdue: [RPCCallControl], nextLook: UInt64?) {
        var overdue: [RPCCallControl] = []
        var earliest: UInt64?
        var overdueKeys: [UInt64] = []
        for (key, entry) in awaitingCallMessage {
            if entry.deadlineNanoseconds <= nowNanoseconds {
                overdue.append(entry.control)
                overdueKeys.append(key)
            } else {
                earliest = min(earliest ?? .max, entry.deadlineNanoseconds)
            }
        }
        // Removed after the loop: removing while iterating would copy the dictionary.
        for key in overdueKeys { awaitingCallMessage.removeValue(forKey: key) }
        let nextLook = earliest ?? (latestDeadlineNanoseconds > nowNanoseconds ? latestDeadlineNanoseconds : nil)
        if nextLook == nil { isSweeping = false }
        return (overdue, nextLook)
    }

    /// The sweeping task stopped early (its reactor is shutting down).
    mutating func sweepingStopped() {
        isSweeping = false
    }

    /// A call was failed because its call message did not arrive in time.
    mutating func countCallMessageTimeout() {
        callMessageTimeouts += 1
    }

    // MARK: Incoming messages

    /// Counts `bytes` of a message that is arriving, if they fit in the budget beside the
    /// messages already arriving; false (nothing counted) if not.
    mutating func reserveIncoming(_ bytes: Int) -> Bool {
        guard bytes <= maxIncomingMessageBytes - incomingMessageBytes else {
            refusedMessages += 1
            return false
        }
        incomingMessageBytes += bytes
        peakIncomingMessageBytes = max(peakIncomingMessageBytes, incomingMessageBytes)
        return true
    }

    /// The message counted with ``reserveIncoming(_:)`` is complete, or its call ended.
    mutating func releaseIncoming(_ bytes: Int) {
        precondition(bytes <= incomingMessageBytes, "released more incoming bytes than reserved")
        incomingMessageBytes -= bytes
    }

    var snapshot: RPCServerSessionLoad {
        RPCServerSessionLoad(
            activeCalls: activeCalls, peakActiveCalls: peakActiveCalls, callMessageTimeouts: callMessageTimeouts,
            incomingMessageBytes: incomingMessageBytes, peakIncomingMessageBytes: peakIncomingMessageBytes,
            refusedMessages: refusedMessages)
    }
}

/// What the calls of one session hold in an ``RPCServer`` now, and the most they held
/// (see ``RPCServer/load(of:)``).
public struct RPCServerSessionLoad: Sendable, Hashable {
    /// Calls running now (counted against ``RPCConfiguration/maxConcurrentCallsPerSession``).
    public var activeCalls: Int
    /// The most calls that ran at once.
    public var peakActiveCalls: Int
    /// Calls failed because their call message did not arrive in time
    /// (``RPCError/Code-swift.struct/callMessageTimeout``).
    public var callMessageTimeouts: Int
    /// Bytes counted now for messages still arriving (against
    /// ``RPCConfiguration/maxIncomingMessageBytesPerSession``): the declared sizes of those
    /// messages, which bound the bytes they hold.
    public var incomingMessageBytes: Int
    /// The most bytes counted at once for messages still arriving.
    public var peakIncomingMessageBytes: Int
    /// Messages refused because they did not fit in the budget (each failed its call with
    /// ``RPCError/Code-swift.struct/resourceExhausted``).
    public var refusedMessages: Int

    public init(
        activeCalls: Int = 0, peakActiveCalls: Int = 0, callMessageTimeouts: Int = 0,
        incomingMessageBytes: Int = 0, peakIncomingMessageBytes: Int = 0, refusedMessages: Int = 0
    ) {
        self.activeCalls = activeCalls
        self.peakActiveCalls = peakActiveCalls
        self.callMessageTimeouts = callMessageTimeouts
        self.incomingMessageBytes = incomingMessageBytes
        self.peakIncomingMessageBytes = peakIncomingMessageBytes
        self.refusedMessages = refusedMessages
    }
}
