import TetherReactor

/// Cuts length-prefixed envelope messages out of the bytes of a call's stream, which arrive in
/// slices of any size (a message may span slices; a slice may hold several messages).
struct RPCMessageFramer: Sendable {
    private var pending: [UInt8] = []
    private var start = 0
    let maxMessageBytes: Int

    init(maxMessageBytes: Int) {
        self.maxMessageBytes = maxMessageBytes
    }

    /// True when bytes of an incomplete message are buffered.
    var hasPartialMessage: Bool { start < pending.count }

    /// The declared body length of the next message when its length prefix is buffered but not
    /// all of its body: what the message will hold once complete. Meaningful after ``next()``
    /// returned nil (then the buffered bytes are the start of this one message).
    var incompleteMessageBodyBytes: Int? {
        let available = pending.count - start
        guard available >= 4 else { return nil }
        let length = declaredLength(at: start)
        return available - 4 < length ? length : nil
    }

    private func declaredLength(at index: Int) -> Int {
        Int(pending[index]) << 24 | Int(pending[index + 1]) << 16 | Int(pending[index + 2]) << 8
            | Int(pending[index + 3])
    }

    mutating func append(_ slice: BufferSlice) {
        if start == pending.count {
            // The common case: nothing left over, the slice starts a message.
            pending = slice.bytes
            start = 0
            return
        }
        if start > 4096, start * 2 > pending.count {
            pending.removeFirst(start)
            start = 0
        }
        pending.append(contentsOf: slice.bytes)
    }

    /// The buffered bytes after the last message (the start of a byte stream that follows the
    /// envelope messages, when a sender put both in one frame), or nil when there are none; the
    /// framer is empty afterwards. They are a copy, as every buffered byte is: the framer holds
    /// no receive buffer of the reactor's, which would stay out of the ring for the call's life.
    mutating func takeRemainder() -> BufferSlice? {
        defer {
            pending = []
            start = 0
        }
        guard start < pending.count else { return nil }
        return BufferSlice(copying: pending[start...])
    }

    /// The next complete message body, if one is buffered.
    mutating func next() throws(RPCError) -> ArraySlice<UInt8>? {
        let available = pending.count - start
        guard available >= 4 else { return nil }
        let length = declaredLength(at: start)
        guard length <= maxMessageBytes else {
            throw RPCError(.messageTooLarge, "\(length)-byte message exceeds the \(maxMessageBytes)-byte limit")
        }
        guard available - 4 >= length else { return nil }
        let body = pending[(start + 4)..<(start + 4 + length)]
        start += 4 + length
        return body
    }
}
