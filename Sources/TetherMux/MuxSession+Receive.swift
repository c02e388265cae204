import TetherReactor

extension MuxSession {
    /// Has the socket deliver every received buffer to `received` from the loop: one call per
    /// buffer, with no task to resume in between.
    func startReceiving() async {
        do {
            try await socket.startReceiving(SessionEvents(session: self, work: .receive))
        } catch {
            if failure == nil { fail(Self.connectionFailure(error)) }
        }
    }

    /// Feeds one received buffer to the state machine; the end of the connection or its failure
    /// ends the session. When the state machine stops parsing because the peer does not take
    /// the frames waiting for it, the socket's receive is paused until a send completes.
    func received(_ result: Result<BufferSlice?, any Error>) {
        guard failure == nil else { return }
        switch result {
        case .success(let chunk?):
            // The socket holds what arrives while its receive is paused: nothing comes here then.
            assert(!inputPaused, "a chunk delivered while the socket's receive is paused")
            parse(from: state.receive(chunk, nowNanoseconds: nowNanoseconds))
        case .success(nil):
            fail(MuxError(.connectionClosed))
        case .failure(let error):
            fail(Self.connectionFailure(error))
        }
    }

    /// Drains actions and goes on parsing while the state machine pauses for them; pauses the
    /// socket's receive when it stops for the output.
    private func parse(from progress: ReceiveProgress) {
        var progress = progress
        drainActions()
        while progress == .paused, failure == nil {
            progress = state.resumeReceiving(nowNanoseconds: nowNanoseconds)
            drainActions()
        }
        guard failure == nil else { return }
        if progress == .outputBlocked {
            if !inputPaused {
                inputPaused = true
                socket.pauseReceiving()
            }
        } else if inputPaused {
            inputPaused = false
            socket.resumeReceiving()
        }
    }

    /// After a send completed: parses the input the state machine held back, and has the socket
    /// deliver again once all of it was parsed.
    func resumeInput() {
        guard inputPaused, failure == nil else { return }
        parse(from: state.resumeReceiving(nowNanoseconds: nowNanoseconds))
    }

    /// Carries out what the state machine decided, and schedules a flush for the frames it
    /// queued. Called after every call into it.
    func drainActions() {
        while let action = state.nextAction() {
            switch action {
            case .deliver(let streamID, let payload):
                guard let entry = streams[streamID] else {
                    // Nobody holds the stream any more: the bytes are dropped as they come.
                    let byteCount = payload.reduce(0) { $0 + $1.count }
                    state.consumed(streamID: streamID, byteCount: byteCount, nowNanoseconds: nowNanoseconds)
                    continue
                }
                for slice in payload {
                    entry.append(slice)
                    if slice.holdsReceiveBuffer { pinnedSlices += 1 }
                    counters.payloadBytesReceived += UInt64(slice.count)
                }
                entry.reader?.resume()
                entry.reader = nil
                if pinnedSlices > pinnedSliceLimit { unpinQueuedSlices() }
            case .streamOpened(let streamID):
                streams[streamID] = MuxStreamEntry(hasHandle: false)
                if !acceptWaiters.isEmpty, let accepted = state.acceptStream(nowNanoseconds: nowNanoseconds) {
                    // The waiter takes the stream when its task runs, after the rest of this
                    // input: a reset parsed meanwhile must be kept for it, not forgotten.
                    streams[accepted]?.hasHandle = true
                    handedToAcceptors.append(accepted)
                    acceptWaiters.removeFirst().resume()
                }
            case .streamAcknowledged:
                break
            case .streamFinished(let streamID), .streamWritable(let streamID):
                wake(streamID)
            case .streamClosed(let streamID), .streamReset(let streamID), .streamDropped(let streamID, _):
                // The state machine keeps how the stream ended for its reader and writers.
                if let entry = streams[streamID] {
                    wake(entry, streamID: streamID)
                    if !entry.hasHandle { discard(streamID) }
                }
            case .openSlotAvailable, .remoteGoAway:
                wakeOpeners()
            case .pingAnswered(let opaque, let rttNanoseconds):
                pingWaiters.removeValue(forKey: opaque)?.resume(returning: .success(rttNanoseconds))
            case .pingTimedOut(let opaque):
                pingWaiters.removeValue(forKey: opaque)?.resume(
                    returning: .failure(MuxError(.keepAliveTimeout, value: UInt64(opaque))))
            case .sessionFailed(let error):
                sessionEnded(error)
            }
        }
        if ask({ $0.hasOutbound }) { wakeWriter() }
    }

    /// Forgets a stream that never got a handle (the peer reset or finished it before it was
    /// accepted): otherwise its record would stay forever.
    private func discard(_ streamID: UInt32) {
        guard let entry = streams.removeValue(forKey: streamID) else { return }
        forget(entry, streamID: streamID)
    }

    /// Copies every queued, unread slice that still holds a reactor receive buffer into memory of
    /// its own, so the buffers go back to the kernel.
    ///
    /// Why: unread stream data would otherwise keep the reactor's provided buffers. Once they are
    /// all held, the session socket cannot be read — not even the window update or FIN that the
    /// readers of those streams are waiting for — and the session deadlocks. The windows bound how
    /// much is copied; a reader that keeps up never triggers this (see `MuxCounters.bytesCopied`).
    func unpinQueuedSlices() {
        for entry in streams.values where entry.hasQueuedData {
            counters.bytesCopied += UInt64(entry.copyPinnedSlices())
        }
        pinnedSlices = 0
    }

    /// The session's failure when a socket operation failed with `error`: `connectionClosed`,
    /// with the kernel's errno as its `value` when there is one (`ECONNRESET`, `EPIPE`, …), so a
    /// log says how the connection ended.
    static func connectionFailure(_ error: any Error) -> MuxError {
        guard let errno = (error as? ReactorError)?.errno else { return MuxError(.connectionClosed) }
        return MuxError(.connectionClosed, value: UInt64(errno.rawValue))
    }

    /// Ends the session with `error`, unless it already ended: the state machine records it and
    /// reports it (``SessionAction/sessionFailed(_:)``), which `sessionEnded` carries out.
    func fail(_ error: MuxError) {
        guard failure == nil else { return }
        state.close(with: error)
        drainActions()
    }

    /// The session ended with `error`: every waiter and stream learns it from the state machine;
    /// queued frames (a GoAway) are still written — for at most the write timeout when the peer
    /// does not read — then the socket is closed. A write timeout shuts the socket down at once.
    private func sessionEnded(_ error: MuxError) {
        for streamID in streams.keys { wake(streamID) }
        // Streams nobody accepted hold reactor receive buffers that other sessions need; nothing
        // can use them now.
        for (streamID, entry) in streams where !entry.hasHandle { discard(streamID) }
        for waiter in acceptWaiters { waiter.resume() }
        acceptWaiters.removeAll()
        wakeOpeners()
        for (_, waiter) in pingWaiters { waiter.resume(returning: .failure(error)) }
        pingWaiters.removeAll()
        if error.code == .writeTimeout { abortConnection() }
        wakeWriter()
        // Stop reading now; the writer flushes what is queued (a GoAway) and ends, and until then
        // the timer bounds those last writes (see `tickLoop`).
        if receiving {
            receiving = false
            loopEnded()
        }
        if !writerRunning { tickerTask?.cancel() }
    }
}
