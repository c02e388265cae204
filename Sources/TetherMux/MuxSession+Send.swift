import TetherReactor

extension MuxSession {
    /// Resets the stream (RST if it is still open) and forgets it; its waiters fail with
    /// `streamClosed`.
    func reset(streamID: UInt32) {
        if let entry = streams.removeValue(forKey: streamID) {
            forget(entry, streamID: streamID)
            entry.wakeAll(failure: MuxError(.streamClosed, streamID: streamID))
        } else {
            state.resetStream(streamID: streamID)
        }
        drainActions()
    }

    /// An entry leaves the session, and the state machine lets go of the stream (resetting it if
    /// it is still open): its unread bytes are dropped and reported consumed, which takes them
    /// out of the session's buffered-bytes budget.
    func forget(_ entry: MuxStreamEntry, streamID: UInt32) {
        state.releaseStream(streamID)
        pinnedSlices -= entry.pinnedCount
        let dropped = entry.dropUnread()
        if dropped > 0 { state.consumed(streamID: streamID, byteCount: dropped, nowNanoseconds: nowNanoseconds) }
    }

    func setFailureHandler(_ handler: @escaping @Sendable (MuxError) -> Void, streamID: UInt32) {
        guard let entry = streams[streamID] else {
            // Already reset locally or released: it has failed as far as its handle can tell.
            handler(failure ?? MuxError(.streamClosed, streamID: streamID))
            return
        }
        if let failure = ask({ $0.streamFailure(streamID) }) {
            handler(failure)
            return
        }
        entry.failureHandler = handler
    }

    /// Releases a dropped stream handle's stream soon, from any thread.
    ///
    /// A handle's `deinit` can run anywhere — inside one of the session's own methods, too — so
    /// it must not touch the session's state directly. Dropped IDs are collected and released
    /// together by one reactor callback after the current job, which costs no task, allocation
    /// or job per released stream.
    nonisolated func enqueueRelease(streamID: UInt32) {
        let first = droppedStreams.withLock { dropped in
            dropped.append(streamID)
            return dropped.count == 1
        }
        if first { reactor.callSoon(SessionEvents(session: self, work: .releaseDropped)) }
    }

    func releaseDropped() {
        let dropped = droppedStreams.withLock { dropped in
            defer { dropped.removeAll(keepingCapacity: true) }
            return dropped
        }
        for streamID in dropped { release(streamID: streamID) }
    }

    /// Forgets a stream whose handle is gone: resets it if still open.
    func release(streamID: UInt32) {
        guard let entry = streams.removeValue(forKey: streamID) else { return }
        // Asked before `forget` lets the state machine drop the stream's end.
        let failure =
            entry.failureHandler == nil
            ? nil : ask({ $0.streamFailure(streamID) }) ?? MuxError(.streamClosed, streamID: streamID)
        forget(entry, streamID: streamID)
        entry.wakeAll(failure: failure)
        drainActions()
    }

    /// The session's timer: keepalives, ping and write timeouts while the session runs. After a
    /// failure, while the writer still flushes (a GoAway, queued data), it only bounds those
    /// writes: the socket is shut down if the connection takes none of them for the write
    /// timeout, so closing ends even when the peer never reads.
    func tickLoop() async {
        defer { loopEnded() }
        while true {
            if failure == nil {
                state.tick(nowNanoseconds: nowNanoseconds)
                drainActions()
                publishMetricsIfDue()
            } else {
                guard writerRunning else { return }
                if ask({ $0.isWriteStalled(nowNanoseconds: nowNanoseconds) }) {
                    abortConnection()
                    return
                }
            }
            let now = nowNanoseconds
            let deadline = ask({ $0.nextDeadlineNanoseconds }) ?? (now + 1_000_000_000)
            let waitNanoseconds = min(max(deadline, now + 1_000_000) - now, 1_000_000_000)
            do {
                try await reactor.sleep(for: .nanoseconds(Int64(waitNanoseconds)))
            } catch {
                return
            }
        }
    }
}
