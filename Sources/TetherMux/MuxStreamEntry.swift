import TetherCollections
import TetherReactor

/// The session's record of one stream beside the state machine's: delivered payload not yet
/// read, and who waits for it. How the stream stands (open, finished, failed) is the state
/// machine's alone (``SessionState/readStatus(of:)``, ``SessionState/streamFailure(_:)``).
/// Lives inside the ``MuxSession`` actor.
///
/// A class, not a struct: mutating a large struct in place through the dictionary's `_modify`
/// accessor would allocate the accessor's coroutine frame on the heap and copy its arrays.
final class MuxStreamEntry {
    /// Delivered slices not yet read, oldest first; a slice read is let go of at once.
    private var received = FIFO<BufferSlice>()
    /// Bytes delivered and not yet read.
    private(set) var unreadBytes = 0
    /// A ``MuxStream`` handle exists (the stream was opened here, accepted, or handed to a
    /// waiting acceptor). Until then the entry belongs to the session alone, which forgets it
    /// when the stream ends.
    var hasHandle: Bool
    var reader: CheckedContinuation<Void, Never>?
    var writers: [CheckedContinuation<Void, Never>] = []
    /// Told once when the stream fails (see `MuxStream.onFailure`).
    var failureHandler: (@Sendable (MuxError) -> Void)?

    init(hasHandle: Bool) {
        self.hasHandle = hasHandle
    }

    var hasQueuedData: Bool { !received.isEmpty }

    /// Slots the queue of unread slices has (for tests: it holds what is unread, however far the
    /// reader lags behind the arrivals).
    var receivedCapacity: Int { received.capacity }

    /// Unread slices that hold a reactor receive buffer.
    var pinnedCount: Int {
        var count = 0
        received.forEach { if $0.holdsReceiveBuffer { count += 1 } }
        return count
    }

    func append(_ slice: BufferSlice) {
        received.append(slice)
        unreadBytes += slice.count
    }

    /// The oldest unread slice. The queue lets go of it at once, so what a stream holds is what
    /// is unread (at most its window), however far the reader lags behind the arrivals.
    func popReceived() -> BufferSlice? {
        guard let slice = received.popFirst() else { return nil }
        unreadBytes -= slice.count
        return slice
    }

    /// Replaces every unread slice that holds a reactor receive buffer with a copy in memory of
    /// its own; returns the bytes copied.
    func copyPinnedSlices() -> Int {
        var copied = 0
        received.updateEach { slice in
            guard slice.holdsReceiveBuffer else { return }
            slice = slice.copied()
            copied += slice.count
        }
        return copied
    }

    /// Drops every unread slice; returns how many bytes they held.
    func dropUnread() -> Int {
        let dropped = unreadBytes
        received.removeAll()
        unreadBytes = 0
        return dropped
    }

    /// Wakes the reader and the writers, which look at the stream again; with a `failure`, tells
    /// the failure handler (once).
    func wakeAll(failure: MuxError?) {
        reader?.resume()
        reader = nil
        for writer in writers { writer.resume() }
        writers.removeAll()
        if let failure, let handler = failureHandler {
            failureHandler = nil
            handler(failure)
        }
    }
}
