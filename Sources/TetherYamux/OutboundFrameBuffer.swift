/// The frames a session has queued for its connection, in the order they go on the wire, and how
/// much of it the connection has not taken yet.
///
/// Two queues:
/// - **control**: header-only frames (window updates, SYN and ACK, pings, GoAway). They are
///   written ahead of everything queued before them, so a window update or a ping reply never
///   waits behind bulk data (what makes yamux keepalives time out under load);
/// - **data**: Data frames (a header, then its payload chunks) and the FIN and RST headers, which
///   end a stream's data and so must follow it.
///
/// The owner takes everything queued with ``take(nowNanoseconds:_:)`` and reports ``written()``
/// once the connection has taken it. Until then those frames are *in flight*: they still count
/// against the limits, because a write the connection has not finished means the peer is not
/// reading. The session (``SessionState``) bounds what is outstanding: reply frames (what the
/// peer's own frames make this side send) and data bytes; see ``MuxConfiguration``.
public struct OutboundFrameBuffer<Chunk: FrameByteChunk>: Sendable {
    /// One thing to write: a frame header, or payload bytes of the Data frame whose header came
    /// just before.
    public enum Item: Sendable {
        case header(FrameHeader)
        case payload(Chunk)
    }

    @usableFromInline var control: [FrameHeader] = []
    @usableFromInline var data: [Item] = []
    @usableFromInline var queuedReplyFrames = 0
    @usableFromInline var inFlightReplyFrames = 0
    @usableFromInline var queuedDataBytes = 0
    @usableFromInline var inFlightDataBytes = 0
    /// When the owner took the frames now in flight, or last reported progress on them.
    @inlinable public var writingSinceNanoseconds: UInt64? { _writingSinceNanoseconds }
    @usableFromInline var _writingSinceNanoseconds: UInt64?

    /// An empty buffer.
    @inlinable public init() {}

    /// Whether nothing is queued (frames in flight do not count).
    @inlinable public var isEmpty: Bool { control.isEmpty && data.isEmpty }

    /// Frames queued and not yet taken (O(queued items): for diagnostics).
    @inlinable public var queuedFrameCount: Int { control.count + data.reduce(0) { $1.isHeader ? $0 + 1 : $0 } }

    /// Items queued and not yet taken: what ``take(nowNanoseconds:_:)`` hands out, one per
    /// header and one per payload chunk.
    @inlinable public var queuedItemCount: Int { control.count + data.count }

    /// Whether taken frames wait for ``written()``.
    @inlinable public var isWriting: Bool { writingSinceNanoseconds != nil }

    /// Reply frames (ping replies, RSTs refusing streams) queued or in flight.
    @inlinable public var outstandingReplyFrames: Int { queuedReplyFrames + inFlightReplyFrames }

    /// Data payload bytes queued or in flight.
    @inlinable public var outstandingDataBytes: Int { queuedDataBytes + inFlightDataBytes }

    /// Queues a header-only frame. FIN and RST go behind the queued data, everything else ahead
    /// of it. `isReply`: the frame answers the peer (a ping reply, an RST refusing its SYN).
    @inlinable public mutating func appendControl(_ header: FrameHeader, isReply: Bool = false) {
        precondition(header.type != .data || header.length == 0, "a Data frame with payload needs appendData")
        if header.flags.contains(.fin) || header.flags.contains(.rst) {
            data.append(.header(header))
        } else {
            control.append(header)
        }
        if isReply { queuedReplyFrames += 1 }
    }

    /// Queues the header of a Data frame; its `header.length` payload bytes follow with
    /// ``appendPayload(_:)``.
    @inlinable public mutating func appendDataHeader(_ header: FrameHeader) {
        data.append(.header(header))
        queuedDataBytes += Int(header.length)
    }

    /// Queues payload bytes of the Data frame whose header was queued last.
    @inlinable public mutating func appendPayload(_ chunk: Chunk) {
        data.append(.payload(chunk))
    }

    /// Hands every queued item to `write` in wire order (control frames, then data) and empties
    /// the queues; the items are in flight until ``written()``.
    @inlinable public mutating func take(nowNanoseconds: UInt64, _ write: (Item) -> Void) {
        guard !isEmpty else { return }
        for header in control { write(.header(header)) }
        for item in data { write(item) }
        control.removeAll(keepingCapacity: true)
        data.removeAll(keepingCapacity: true)
        inFlightReplyFrames += queuedReplyFrames
        inFlightDataBytes += queuedDataBytes
        queuedReplyFrames = 0
        queuedDataBytes = 0
        if writingSinceNanoseconds == nil { _writingSinceNanoseconds = nowNanoseconds }
    }

    /// The connection took part of what is in flight: the write is slow, not stalled.
    @inlinable public mutating func progressed(nowNanoseconds: UInt64) {
        if writingSinceNanoseconds != nil { _writingSinceNanoseconds = nowNanoseconds }
    }

    /// The connection took everything in flight.
    @inlinable public mutating func written() {
        inFlightReplyFrames = 0
        inFlightDataBytes = 0
        _writingSinceNanoseconds = nil
    }
}

extension OutboundFrameBuffer.Item {
    @inlinable var isHeader: Bool {
        if case .header = self { return true }
        return false
    }
}
