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

/// Slots for in-flight operations, up to a fixed capacity. A slot is made the first time the table
/// runs out of free ones and reused ever after, so a reactor that serves one connection touches
/// the memory of the few slots it uses, not of all `capacity` (a plugin's start and its RSS); the
/// slot array's and the scratch areas' room is reserved at startup, so nothing is allocated or
/// moved per operation.
///
/// A slot's user data is `generation << 32 | index`. The generation changes whenever a slot is
/// freed, so a late cancel request or a stray CQE for a reused slot is recognised and ignored.
@safe struct OperationTable: ~Copyable {
    struct Slot {
        var generation: UInt32 = 1
        var target: CompletionTarget = .none
        var operation: Operation = .close(fd: -1)
        var inFlight = false
        /// Non-zero when a fault injector replaced the operation with a no-op: the negative errno
        /// its completion carries instead (see `FaultInjector`).
        var injectedResult: Int32 = 0
    }

    /// User data of CQEs nobody waits for (cancel requests).
    static let ignoredUserData: UInt64 = .max

    private var slots: [Slot]
    private var freeList: [Int32]
    let capacity: Int
    let scratch: UnsafeMutablePointer<OperationScratch>
    let iovecs: UnsafeMutablePointer<iovec>
    let iovecsPerSlot: Int
    private let scratchBytes: Int
    private let iovecBytes: Int

    /// Reserves room for `capacity` slots. The scratch areas and iovec arrays are anonymous
    /// mappings: the kernel hands out zeroed pages on first touch, and zero bytes are exactly an
    /// empty `OperationScratch` and `iovec` (plain C structs), so they need no initializing pass.
    init(capacity: Int, iovecsPerSlot: Int) throws(ReactorError) {
        precondition(capacity > 0 && capacity < Int(Int32.max) && iovecsPerSlot > 0)
        self.capacity = capacity
        slots = []
        slots.reserveCapacity(capacity)
        freeList = []
        freeList.reserveCapacity(capacity)
        scratchBytes = capacity * MemoryLayout<OperationScratch>.stride
        iovecBytes = unsafe capacity * iovecsPerSlot * MemoryLayout<iovec>.stride
        let scratchMemory = try unsafe mapAnonymousMemory("mmap operation scratch", byteCount: scratchBytes)
        let iovecMemory: UnsafeMutableRawPointer
        do throws(ReactorError) {
            unsafe iovecMemory = try unsafe mapAnonymousMemory("mmap operation iovecs", byteCount: iovecBytes)
        } catch {
            unsafe unmap(scratchMemory, byteCount: scratchBytes)
            throw error
        }
        unsafe scratch = scratchMemory.bindMemory(to: OperationScratch.self, capacity: capacity)
        unsafe iovecs = iovecMemory.bindMemory(to: iovec.self, capacity: capacity * iovecsPerSlot)
        self.iovecsPerSlot = iovecsPerSlot
    }

    deinit {
        unsafe unmap(UnsafeMutableRawPointer(scratch), byteCount: scratchBytes)
        unsafe unmap(UnsafeMutableRawPointer(iovecs), byteCount: iovecBytes)
    }

    var inFlightCount: Int { slots.count - freeList.count }
    var isFull: Bool { freeList.isEmpty && slots.count == capacity }

    /// Takes a free slot for `operation` (a new one while fewer than `capacity` exist), or nil
    /// when every slot is in use.
    mutating func reserve(_ operation: Operation) -> UInt64? {
        let index: Int32
        if let free = freeList.popLast() {
            index = free
        } else if slots.count < capacity {
            index = Int32(slots.count)
            slots.append(Slot())
        } else {
            return nil
        }
        slots[Int(index)].operation = operation
        slots[Int(index)].inFlight = false
        slots[Int(index)].injectedResult = 0
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
