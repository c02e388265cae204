// Pings, keepalive, GoAway and the end of the connection.

extension SessionState {
    /// Sends a Ping|SYN and returns its opaque value; the reply is reported as
    /// ``SessionAction/pingAnswered(opaque:rttNanoseconds:)``, or ``SessionAction/pingTimedOut(opaque:)``
    /// after ``MuxConfiguration/keepAliveTimeoutNanoseconds``.
    ///
    /// - Throws: the session's failure, or ``MuxError/Code-swift.struct/tooManyPings``.
    @inlinable public mutating func ping(nowNanoseconds: UInt64) throws(MuxError) -> UInt32 {
        if let failure { throw failure }
        guard let opaque = sendPing(kind: .user, nowNanoseconds: nowNanoseconds) else {
            throw MuxError(.tooManyPings, value: UInt64(pings.count))
        }
        return opaque
    }

    /// Advances the session's timers: fails with ``MuxError/Code-swift.struct/writeTimeout`` when
    /// a write made no progress for ``MuxConfiguration/writeTimeoutNanoseconds``, with
    /// ``MuxError/Code-swift.struct/keepAliveTimeout`` when a keepalive ping went unanswered, sends the next keepalive when it is due, and probes
    /// the round-trip time once if auto-tuning needs it.
    @inlinable public mutating func tick(nowNanoseconds: UInt64) {
        guard failure == nil else { return }
        if isWriteStalled(nowNanoseconds: nowNanoseconds) {
            // The peer stopped reading: a GoAway could not reach it either.
            fail(MuxError(.writeTimeout), goAway: nil)
            return
        }
        let timeout = configuration.keepAliveTimeoutNanoseconds
        var index = 0
        while index < pings.count {
            let ping = pings[index]
            guard nowNanoseconds >= ping.sentNanoseconds, nowNanoseconds - ping.sentNanoseconds >= timeout else {
                index += 1
                continue
            }
            switch ping.kind {
            case .keepAlive:
                // yamux closes the session with ErrKeepAliveTimeout and sends no GoAway.
                fail(MuxError(.keepAliveTimeout, value: UInt64(ping.opaque)), goAway: nil)
                return
            case .user:
                pings.remove(at: index)
                emit(.pingTimedOut(opaque: ping.opaque))
            case .rttProbe:
                pings.remove(at: index)
            }
        }
        if let due = nextKeepAliveNanoseconds, nowNanoseconds >= due,
            let interval = configuration.keepAliveIntervalNanoseconds
        {
            // Like yamux, keepalives go out on a fixed interval whatever the traffic; one
            // unanswered keepalive at a time is enough to detect a dead peer.
            if !pings.contains(where: { $0.kind == .keepAlive }) {
                sendPing(kind: .keepAlive, nowNanoseconds: nowNanoseconds)
            }
            nextKeepAliveNanoseconds = nowNanoseconds.addingReportingOverflow(interval).partialValue
        }
        if configuration.windowAutoTuning, rttNanoseconds == nil, pings.isEmpty {
            // Auto-tuning compares update intervals with the round trip; without a keepalive reply
            // yet, one probe gives the first estimate.
            sendPing(kind: .rttProbe, nowNanoseconds: nowNanoseconds)
        }
    }

    /// When ``tick(nowNanoseconds:)`` must next be called, or `nil` if no timer is needed. After
    /// the session failed, only the write timeout is left (see ``isWriteStalled(nowNanoseconds:)``).
    @inlinable @inline(__always) public var nextDeadlineNanoseconds: UInt64? {
        guard failure == nil else { return writeDeadlineNanoseconds }
        var deadline =
            writeDeadlineNanoseconds.map { min($0, nextKeepAliveNanoseconds ?? $0) } ?? nextKeepAliveNanoseconds
        for ping in pings {
            let expiry = ping.sentNanoseconds.addingReportingOverflow(configuration.keepAliveTimeoutNanoseconds)
                .partialValue
            deadline = min(deadline ?? expiry, expiry)
        }
        return deadline
    }

    @discardableResult
    @inlinable mutating func sendPing(kind: OutstandingPing.Kind, nowNanoseconds: UInt64) -> UInt32? {
        guard pings.count < configuration.maxOutstandingPings else { return nil }
        let opaque = nextPingOpaque
        nextPingOpaque &+= 1
        pings.append(OutstandingPing(opaque: opaque, sentNanoseconds: nowNanoseconds, kind: kind))
        sendControl(.ping(opaque: opaque, reply: false))
        return opaque
    }

    /// Sends GoAway.
    ///
    /// With ``GoAwayCode/normal`` the session keeps running: existing streams continue and every
    /// later incoming SYN gets RST, as in hashicorp/yamux. Any other code ends the session
    /// (``MuxError/Code-swift.struct/localGoAway``) after the GoAway frame.
    @inlinable public mutating func goAway(_ code: GoAwayCode = .normal) {
        guard failure == nil else { return }
        guard code == .normal else {
            fail(MuxError(.localGoAway, value: UInt64(code.rawValue)), goAway: code)
            return
        }
        guard !localGoAwaySent else { return }
        _localGoAwaySent = true
        sendControl(.goAway(.normal))
    }

    /// Reports that the connection ended: the session fails with
    /// ``MuxError/Code-swift.struct/connectionClosed`` unless it already failed. For an I/O error,
    /// ``close(with:)`` with a `connectionClosed` that carries the errno says more.
    @inlinable public mutating func connectionClosed() {
        fail(MuxError(.connectionClosed), goAway: nil)
    }

    /// Ends the session with `error` without sending anything (a local close, a broken
    /// connection): the owner's record of why the session ended is ``failure``, not a copy of its
    /// own. Does nothing if the session already failed.
    @inlinable public mutating func close(with error: MuxError) {
        fail(error, goAway: nil)
    }
}
