import TetherReactor

extension MuxSession {
    /// Sends `slices` on `streamID`: the state machine queues them as frames of at most the
    /// peer's window and `maxFrameBytes` (payload slices share the caller's), waiting for window
    /// updates and for outbound room as needed.
    func write(_ slices: [BufferSlice], streamID: UInt32, finishing: Bool) async throws(MuxError) {
        var cursor = PayloadCursor(slices)
        if cursor.isDone {
            if finishing { try closeWrite(streamID: streamID) }
            return
        }
        while true {
            if let failure = streams[streamID]?.failure ?? failure { throw failure }
            let progress = state.send(streamID: streamID, payload: slices, cursor: &cursor, finishing: finishing)
            drainActions()
            switch progress {
            case .done:
                return
            case .mustWait:
                guard streams[streamID] != nil else { throw MuxError(.streamClosed, streamID: streamID) }
                noteWriterWaits(streamID: streamID)
                try await waitCancellably(streamID: streamID, as: .writer)
            case .failed(let error):
                throw streams[streamID]?.failure ?? error
            }
        }
    }

    func closeWrite(streamID: UInt32) throws(MuxError) {
        if let failure = streams[streamID]?.failure ?? failure { throw failure }
        state.closeWrite(streamID: streamID)
        drainActions()
    }

    func reset(streamID: UInt32) {
        state.resetStream(streamID: streamID)
        if let entry = streams.removeValue(forKey: streamID) {
            forget(entry, streamID: streamID)
            entry.failure = MuxError(.streamClosed, streamID: streamID)
            entry.wakeAll()
        }
        drainActions()
    }

    /// An entry leaves the session: its unread bytes are dropped and reported consumed, which
    /// takes them out of the session's buffered-bytes budget.
    func forget(_ entry: MuxStreamEntry, streamID: UInt32) {
        pinnedSlices -= entry.pinnedCount
        let dropped = entry.dropUnread()
        if dropped > 0 { state.consumed(streamID: streamID, byteCount: dropped, nowNanoseconds: nowNanoseconds) }
    }

    /// The next received slice of `streamID`, nil at end of stream. Gives the window back for it.
    func read(streamID: UInt32, woken alreadyWoken: Bool = false) async throws(MuxError) -> BufferSlice? {
        var woken = alreadyWoken
        while true {
            switch try readStep(streamID: streamID, woken: woken) {
            case .slice(let slice): return slice
            case .end: return nil
            case .wait:
                try await waitCancellably(streamID: streamID, as: .reader)
                woken = true
            }
        }
    }

    /// What a reader finds: a slice (its window is given back), the end of the stream, or
    /// nothing yet. `woken`: the reader waited, so a stream gone meanwhile was reset or closed
    /// locally — not the peer's end of stream.
    func readStep(streamID: UInt32, woken: Bool) throws(MuxError) -> ReadStep {
        guard let entry = streams[streamID] else {
            if woken { throw MuxError(.streamClosed, streamID: streamID) }
            return .end
        }
        if let slice = entry.popReceived() {
            if slice.holdsReceiveBuffer { pinnedSlices -= 1 }
            state.consumed(streamID: streamID, byteCount: slice.count, nowNanoseconds: nowNanoseconds)
            drainActions()
            return .slice(slice)
        }
        if let failure = entry.failure { throw failure }
        if entry.finished || entry.closed { return .end }
        if let failure { throw failure }
        guard entry.reader == nil else { throw MuxError(.streamClosed, streamID: streamID) }
        return .wait
    }

    /// Parks the stream's reader until data, its end or a failure arrives — or wakes it at once
    /// if one already has, or the stream is gone: whatever came between the reader's look and
    /// this call is not slept past.
    func parkReader(_ continuation: CheckedContinuation<Void, Never>, streamID: UInt32) {
        guard let entry = streams[streamID], failure == nil, entry.failure == nil, !entry.finished, !entry.closed,
            !entry.hasQueuedData
        else {
            continuation.resume()
            return
        }
        entry.reader = continuation
    }

    func setFailureHandler(_ handler: @escaping @Sendable (MuxError) -> Void, streamID: UInt32) {
        guard let entry = streams[streamID] else {
            // Already reset locally or released: it has failed as far as its handle can tell.
            handler(failure ?? MuxError(.streamClosed, streamID: streamID))
            return
        }
        if let failure = entry.failure {
            handler(failure)
            return
        }
        entry.failureHandler = handler
    }

    /// Which waiter of a stream parks. (A `park` closure parameter instead hung the Go interop
    /// bulk tests: the closure, passed through `withTaskCancellationHandler`, did not behave as
    /// actor-isolated code. Keep the parking inside this method.)
    enum Waiter { case reader, writer }

    /// Parks the calling reader or writer of `streamID` until the stream wakes it, or its task is
    /// cancelled: then it throws `cancelled` and the stream is left as it was. The cancellation
    /// handler is registered only here, where the operation really waits.
    func waitCancellably(streamID: UInt32, as waiter: Waiter) async throws(MuxError) {
        if Task.isCancelled { throw MuxError(.cancelled, streamID: streamID) }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in park(continuation, streamID: streamID, as: waiter) }
        } onCancel: {
            wakeParkedSoon(streamID: streamID)
        }
        if Task.isCancelled { throw MuxError(.cancelled, streamID: streamID) }
    }

    /// Parks `continuation` as the reader or a writer of `streamID` (resumes it at once if the
    /// stream is gone).
    func park(_ continuation: CheckedContinuation<Void, Never>, streamID: UInt32, as waiter: Waiter) {
        switch waiter {
        case .reader: parkReader(continuation, streamID: streamID)
        case .writer:
            if let entry = streams[streamID] { entry.writers.append(continuation) } else { continuation.resume() }
        }
    }

    /// From a cancellation handler (any thread): everyone parked on the stream looks again; the
    /// cancelled task then throws.
    nonisolated func wakeParkedSoon(streamID: UInt32) {
        Task(executorPreference: reactor) { await self.wakeParked(streamID: streamID) }
    }

    private func wakeParked(streamID: UInt32) {
        streams[streamID]?.wakeAll()
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
        if !(entry.closed || entry.failure != nil) { state.resetStream(streamID: streamID) }
        forget(entry, streamID: streamID)
        if entry.failure == nil { entry.failure = MuxError(.streamClosed, streamID: streamID) }
        entry.wakeAll()
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
                if state.isWriteStalled(nowNanoseconds: nowNanoseconds) {
                    abortConnection()
                    return
                }
            }
            let now = nowNanoseconds
            let deadline = state.nextDeadlineNanoseconds ?? (now + 1_000_000_000)
            let waitNanoseconds = min(max(deadline, now + 1_000_000) - now, 1_000_000_000)
            do {
                try await reactor.sleep(for: .nanoseconds(Int64(waitNanoseconds)))
            } catch {
                return
            }
        }
    }
}

// MARK: Fast paths without an actor hop
//
// Code already on the reactor thread (the session's executor) can run session steps that need no
// waiting synchronously through `runIsolated`: one actor hop and one job less per call. Each
// returns nil (or false) when it would have to wait, and the caller takes the async path.
extension MuxSession {
    /// Queues all of `slices` if the peer's window and the outbound limit take them now; false
    /// (nothing queued) otherwise.
    func writeNow(_ slices: [BufferSlice], streamID: UInt32, finishing: Bool) -> Bool {
        guard failure == nil, streams[streamID]?.failure == nil else { return false }
        var cursor = PayloadCursor(slices)
        guard !cursor.isDone, state.canSendNow(streamID: streamID, byteCount: cursor.remainingBytes) else {
            return false
        }
        guard state.send(streamID: streamID, payload: slices, cursor: &cursor, finishing: finishing) == .done else {
            preconditionFailure("credit and room were checked")
        }
        drainActions()
        return true
    }

    /// Opens a stream if no wait is needed.
    func openNow() -> MuxStream? {
        guard failure == nil, case .opened(let streamID) = state.openStream(nowNanoseconds: nowNanoseconds) else {
            return nil
        }
        streams[streamID] = MuxStreamEntry(hasHandle: true)
        counters.streamsOpened += 1
        drainActions()
        return MuxStream(id: streamID, session: self)
    }
}
