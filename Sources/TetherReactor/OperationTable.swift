import CLibUring

/// Who is told when a slot's completion arrives.
@safe enum CompletionTarget {
    /// Nobody is waiting (a slot on the free list).
    case none
    /// A task suspended in ``EventLoop/perform(_:prepare:)``.
    case continuation(UnsafeContinuation<Completion, Never>)
    /// A receiving handle: a multishot recv or a buffer-selecting read feeding its queue.
    case receiver(ReceiveQueue)
    /// A listener's multishot accept feeding its queue.
    case acceptor(AcceptQueue)
    /// A completion-driven gathered send (`StreamSocket.startSending`).
    case sender(GatheredSend)
    /// Loop-owned bookkeeping told of its operation's completion (an orphaned child's `waitid`,
    /// a listener's back-off timer).
    case callback(any OperationCallback)
    /// The reactor's own wake-up read on its eventfd.
    case wakeUp
}

/// Slots for in-flight operations, preallocated at startup (nothing is allocated per operation).
///
/// A slot's user data is `generation << 32 | index`. The generation changes whenever a slot is
/// freed, so a late cancel request or a stray CQE for a reused slot is recognised and ignored.
@safe struct OperationTable: ~Copyable {
    struct Slot {
        var generation: UInt32 = 1
        var target: CompletionTarget = .none
        var operation: Operation = .close(fd: -1)
        var inFlight = false
    }

    /// User data of CQEs nobody waits for (cancel requests).
    static let ignoredUserData: UInt64 = .max

    private var slots: [Slot]
    private var freeList: [Int32]
    let scratch: UnsafeMutablePointer<OperationScratch>
    let iovecs: UnsafeMutablePointer<iovec>
    let iovecsPerSlot: Int

    init(capacity: Int, iovecsPerSlot: Int) {
        precondition(capacity > 0 && capacity < Int(Int32.max) && iovecsPerSlot > 0)
        slots = Array(repeating: Slot(), count: capacity)
        freeList = (0..<Int32(capacity)).reversed()
        unsafe scratch = .allocate(capacity: capacity)
        unsafe scratch.initialize(repeating: OperationScratch(), count: capacity)
        unsafe iovecs = .allocate(capacity: capacity * iovecsPerSlot)
        unsafe iovecs.initialize(repeating: iovec(), count: capacity * iovecsPerSlot)
        self.iovecsPerSlot = iovecsPerSlot
    }

    deinit {
        unsafe scratch.deinitialize(count: slots.count)
        unsafe scratch.deallocate()
        unsafe iovecs.deallocate()
    }

    var inFlightCount: Int { slots.count - freeList.count }
    var isFull: Bool { freeList.isEmpty }

    /// Takes a free slot for `operation`, or nil when every slot is in use.
    mutating func reserve(_ operation: Operation) -> UInt64? {
        guard let index = freeList.popLast() else { return nil }
        slots[Int(index)].operation = operation
        slots[Int(index)].inFlight = false
        return userData(at: Int(index))
    }

    /// The slot index for `userData`, if it still names the current use of that slot.
    func index(of userData: UInt64) -> Int? {
        let index = Int(UInt32(truncatingIfNeeded: userData))
        guard index < slots.count, slots[index].generation == UInt32(truncatingIfNeeded: userData >> 32) else {
            return nil
        }
        return index
    }

    subscript(index: Int) -> Slot {
        _read { yield slots[index] }
        _modify { yield &slots[index] }
    }

    func scratch(at index: Int) -> UnsafeMutablePointer<OperationScratch> { unsafe scratch + index }
    func iovecs(at index: Int) -> UnsafeMutablePointer<iovec> { unsafe iovecs + index * iovecsPerSlot }

    /// Returns the slot to the free list; its user data stops matching.
    mutating func release(_ index: Int) {
        slots[index].generation &+= 1
        if slots[index].generation == 0 { slots[index].generation = 1 }
        slots[index].target = .none
        slots[index].inFlight = false
        freeList.append(Int32(index))
    }

    /// The current user data of slot `index`.
    func userData(at index: Int) -> UInt64 {
        UInt64(slots[index].generation) << 32 | UInt64(UInt32(index))
    }

    /// Indices of every slot that is in the kernel, for shutdown.
    func inFlightIndices() -> [Int] { slots.indices.filter { slots[$0].inFlight } }
}
