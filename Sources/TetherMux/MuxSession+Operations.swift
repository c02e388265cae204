import TetherReactor

/// An operation of a session or one of its streams, as the driver (`MuxSession.perform`) runs it:
/// each try is one synchronous step on the session's state, which finishes the operation or
/// names what it waits for.
enum MuxOperation: Sendable {
    case open
    case accept
    /// `woken`: the reader has waited, so a stream gone meanwhile was reset or closed locally —
    /// not the peer's end of stream.
    case read(streamID: UInt32, woken: Bool)
    /// `cursor`: how much of `slices` is queued; a write that waits goes on from there.
    case write(streamID: UInt32, slices: [BufferSlice], cursor: PayloadCursor, finishing: Bool)
    case closeWrite(streamID: UInt32)
}

/// What a finished operation produced.
enum MuxOutcome: Sendable {
    case stream(MuxStream)
    /// A read: the next slice, or nil at the end of the stream.
    case slice(BufferSlice?)
    case done
}

/// What one step of an operation decided.
enum MuxStep: Sendable {
    case finished(MuxOutcome)
    /// Wait as `waiter`, then step `operation` (the same one, or how far it got) again.
    case waiting(MuxOperation, MuxWaiter)
}

/// Who waits, for what: the session wakes each kind when what it waits for may have changed.
enum MuxWaiter: Sendable {
    /// Whether cancelling the waiting task ends the wait. An acceptor waits on: the stream it then
    /// gets is the caller's to refuse (dropping the handle resets it), so a cancelled accept loop
    /// answers the peer's next stream at once with a reset.
    var endsOnCancellation: Bool {
        if case .acceptor = self { return false }
        return true
    }

    /// The error of a wait its task's cancellation ended.
    var cancelled: MuxError {
        switch self {
        case .reader(let streamID), .writer(let streamID): MuxError(.cancelled, streamID: streamID)
        case .opener, .acceptor: MuxError(.cancelled)
        }
    }

    /// Data, the end or the failure of a stream.
    case reader(UInt32)
    /// Send credit or outbound room on a stream, or its failure.
    case writer(UInt32)
    /// A free slot among the streams waiting for the peer's ACK.
    case opener
    /// An incoming stream.
    case acceptor
}

extension MuxSession {
    // MARK: The driver

    /// Runs `operation` to its end, or until the task is cancelled while the operation must wait
    /// (an accept waits on; see ``MuxWaiter/endsOnCancellation``): then it throws `cancelled` and
    /// leaves the stream as it was. On the session's reactor thread each step runs without an
    /// actor hop (`runIsolated`, an `assumeIsolated` that allocates nothing) and a wait parks
    /// this task on the stream directly, so its wake-up resumes it in one job — waiting inside
    /// the actor costs up to three (hop in, resume there, hop back out). Elsewhere it hops onto
    /// the actor once and runs there.
    @inline(__always)
    nonisolated func perform(_ operation: MuxOperation) async throws(MuxError) -> MuxOutcome {
        var operation = operation
        while reactor.isCurrentThread {
            let step = reactor.runIsolated(self, operation) { session, operation in
                Result { () throws(MuxError) in try session.step(operation) }
            }
            switch try step.get() {
            case .finished(let outcome):
                return outcome
            case .waiting(let next, let waiter):
                operation = next
                let cancellable = waiter.endsOnCancellation
                if cancellable, Task.isCancelled { throw waiter.cancelled }
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in parkNow(continuation, as: waiter) }
                } onCancel: {
                    if cancellable { self.wakeParkedSoon(waiter) }
                }
                if cancellable, Task.isCancelled { throw waiter.cancelled }
            }
        }
        return try await performIsolated(operation)
    }

    /// Parks `continuation` as `waiter` (see `park`). Reactor thread only.
    private nonisolated func parkNow(_ continuation: CheckedContinuation<Void, Never>, as waiter: MuxWaiter) {
        reactor.runIsolated(self, (continuation, waiter)) { session, park in session.park(park.0, as: park.1) }
    }

    /// The driver's loop on the actor.
    private func performIsolated(_ operation: MuxOperation) async throws(MuxError) -> MuxOutcome {
        var operation = operation
        while true {
            switch try step(operation) {
            case .finished(let outcome):
                return outcome
            case .waiting(let next, let waiter):
                operation = next
                let cancellable = waiter.endsOnCancellation
                if cancellable, Task.isCancelled { throw waiter.cancelled }
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in park(continuation, as: waiter) }
                } onCancel: {
                    if cancellable { wakeParkedSoon(waiter) }
                }
                if cancellable, Task.isCancelled { throw waiter.cancelled }
            }
        }
    }

    // MARK: Steps

    /// One synchronous try at `operation` on the session's state.
    func step(_ operation: MuxOperation) throws(MuxError) -> MuxStep {
        switch operation {
        case .open:
            return try openStep()
        case .accept:
            return try acceptStep()
        case .read(let streamID, let woken):
            return try readStep(streamID: streamID, woken: woken)
        case .write(let streamID, let slices, let cursor, let finishing):
            return try writeStep(streamID: streamID, slices: slices, cursor: cursor, finishing: finishing)
        case .closeWrite(let streamID):
            if let failure = writeFailure(streamID) { throw failure }
            state.closeWrite(streamID: streamID)
            drainActions()
            return .finished(.done)
        }
    }

    private func openStep() throws(MuxError) -> MuxStep {
        switch state.openStream(nowNanoseconds: nowNanoseconds) {
        case .opened(let streamID):
            streams[streamID] = MuxStreamEntry(hasHandle: true)
            counters.streamsOpened += 1
            drainActions()
            return .finished(.stream(MuxStream(id: streamID, session: self)))
        case .mustWait:
            return .waiting(.open, .opener)
        case .refused(let error):
            drainActions()
            throw error
        }
    }

    private func acceptStep() throws(MuxError) -> MuxStep {
        if let streamID = handedToAcceptors.popFirst() ?? state.acceptStream(nowNanoseconds: nowNanoseconds) {
            return .finished(.stream(accepted(streamID)))
        }
        if let failure { throw failure }
        return .waiting(.accept, .acceptor)
    }

    private func accepted(_ streamID: UInt32) -> MuxStream {
        if let entry = streams[streamID] {
            entry.hasHandle = true
        } else {
            // Unreachable while entries of streams handed out stay until their handles go; should
            // one be missing, the state machine reports the stream as closed to its handle.
            streams[streamID] = MuxStreamEntry(hasHandle: true)
        }
        counters.streamsAccepted += 1
        drainActions()
        return MuxStream(id: streamID, session: self)
    }

    /// What a reader finds: a slice (its window is given back), the end of the stream, or
    /// nothing yet.
    private func readStep(streamID: UInt32, woken: Bool) throws(MuxError) -> MuxStep {
        guard let entry = streams[streamID] else {
            if woken { throw MuxError(.streamClosed, streamID: streamID) }
            return .finished(.slice(nil))
        }
        if let slice = entry.popReceived() {
            if slice.holdsReceiveBuffer { pinnedSlices -= 1 }
            state.consumed(streamID: streamID, byteCount: slice.count, nowNanoseconds: nowNanoseconds)
            drainActions()
            return .finished(.slice(slice))
        }
        switch ask({ $0.readStatus(of: streamID) }) {
        case .open:
            guard entry.reader == nil else { throw MuxError(.streamClosed, streamID: streamID) }
            return .waiting(.read(streamID: streamID, woken: true), .reader(streamID))
        case .finished:
            return .finished(.slice(nil))
        case .failed(let error):
            throw error
        }
    }

    /// Queues as much of `slices` as the peer's window and the outbound limit take: frames of at
    /// most the window and `maxFrameBytes`, whose payloads share the caller's slices.
    private func writeStep(streamID: UInt32, slices: [BufferSlice], cursor: PayloadCursor, finishing: Bool)
        throws(MuxError) -> MuxStep
    {
        // The state machine refuses a write to a stream that cannot take one, with its reason.
        var cursor = cursor
        if cursor.isDone {
            if let failure = writeFailure(streamID) { throw failure }
            if finishing {
                state.closeWrite(streamID: streamID)
                drainActions()
            }
            return .finished(.done)
        }
        let progress = state.send(streamID: streamID, payload: slices, cursor: &cursor, finishing: finishing)
        drainActions()
        switch progress {
        case .done:
            return .finished(.done)
        case .mustWait(let reason):
            guard streams[streamID] != nil else { throw MuxError(.streamClosed, streamID: streamID) }
            noteWriterWaits(for: reason)
            return .waiting(
                .write(streamID: streamID, slices: slices, cursor: cursor, finishing: finishing), .writer(streamID))
        case .failed(let error):
            throw error
        }
    }

    /// Why the stream's write half cannot be used: the stream's own failure, or the session's
    /// (also for a stream that had closed normally before the session ended).
    private func writeFailure(_ streamID: UInt32) -> MuxError? {
        ask({ $0.streamFailure(streamID) }) ?? failure
    }

    // MARK: Waiting

    /// Parks `continuation` as `waiter` until the session wakes it — or resumes it at once if
    /// what it waits for has already happened, or its stream is gone: whatever came between the
    /// step and this call is not slept past.
    func park(_ continuation: CheckedContinuation<Void, Never>, as waiter: MuxWaiter) {
        switch waiter {
        case .reader(let streamID):
            guard let entry = streams[streamID], !entry.hasQueuedData, ask({ $0.readStatus(of: streamID) }) == .open
            else {
                continuation.resume()
                return
            }
            entry.reader = continuation
        case .writer(let streamID):
            guard let entry = streams[streamID], ask({ $0.streamFailure(streamID) }) == nil else {
                continuation.resume()
                return
            }
            entry.writers.append(continuation)
        case .opener:
            guard failure == nil else {
                continuation.resume()
                return
            }
            openWaiters.append(continuation)
        case .acceptor:
            guard failure == nil, handedToAcceptors.isEmpty, ask({ $0.acceptQueueCount }) == 0 else {
                continuation.resume()
                return
            }
            acceptWaiters.append(continuation)
        }
    }

    /// From a cancellation handler (any thread): every waiter of that kind looks again; the
    /// cancelled task then throws.
    nonisolated func wakeParkedSoon(_ waiter: MuxWaiter) {
        Task(executorPreference: reactor) { await self.wakeParked(waiter) }
    }

    private func wakeParked(_ waiter: MuxWaiter) {
        switch waiter {
        case .reader(let streamID), .writer(let streamID):
            wake(streamID)
        case .opener:
            wakeOpeners()
        case .acceptor:
            for waiter in acceptWaiters { waiter.resume() }
            acceptWaiters.removeAll()
        }
    }

    /// Everyone waiting on the stream looks again; the failure handler hears of its failure.
    func wake(_ streamID: UInt32) {
        guard let entry = streams[streamID] else { return }
        wake(entry, streamID: streamID)
    }

    /// Wakes the waiters of `entry`, the record of `streamID`. Only a failure handler is told
    /// why; the reader and writers ask the state machine when they run.
    func wake(_ entry: MuxStreamEntry, streamID: UInt32) {
        entry.wakeAll(failure: entry.failureHandler == nil ? nil : ask({ $0.streamFailure(streamID) }))
    }

    func wakeOpeners() {
        for waiter in openWaiters { waiter.resume() }
        openWaiters.removeAll()
    }
}
