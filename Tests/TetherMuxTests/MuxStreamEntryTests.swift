import Testing
import TetherReactor

@testable import TetherMux

/// A stream's record of unread slices, without a session: what it holds while a reader lags.
@Suite struct MuxStreamEntryTests {
    /// 10,000 slices arrive while the reader keeps at most 100 unread: every byte comes out in
    /// order, and the record holds room for the unread ones only (a power of two above 100),
    /// not for everything that ever arrived.
    @Test func aLaggingReaderHoldsOnlyWhatIsUnread() {
        let entry = MuxStreamEntry(hasHandle: true)
        var read: [UInt8] = []
        for index in 0..<10_000 {
            entry.append(BufferSlice(copying: [UInt8(truncatingIfNeeded: index)]))
            if entry.unreadBytes > 100, let slice = entry.popReceived() { read += slice.bytes }
            #expect(entry.unreadBytes <= 101)
        }
        while let slice = entry.popReceived() { read += slice.bytes }
        #expect(read == (0..<10_000).map { UInt8(truncatingIfNeeded: $0) })
        #expect(entry.receivedCapacity <= 128)
        #expect(entry.unreadBytes == 0)
        #expect(!entry.hasQueuedData)
    }
}
