import TetherReactor

extension MuxSession {
    /// Has the socket deliver every received buffer to `received` from the loop: one call per
    /// buffer, where a reader task cost a job to resume it.
    func startReceiving() async {
        do {
            try await socket.startReceiving(SessionEvents(session: self, work: .receive))
        } catch {
            if failure == nil { fail(MuxError(.connectionClosed)) }
        }
    }

    /// Feeds one received buffer to the state machine; the end of the connection or its failure
    /// ends the session.
    func received(_ result: Result<BufferSlice?, any Error>) {
        guard failure == nil else { return }
        switch result {
        case .success(let chunk?):
            var progress = state.receive(chunk, nowNanoseconds: nowNanoseconds)
            drainActions()
            while progress == .paused, failure == nil {
                progress = state.resumeReceiving(nowNanoseconds: nowNanoseconds)
                drainActions()
            }
        case .success(nil):
            state.connectionClosed()
            drainActions()
            if failure == nil { fail(MuxError(.connectionClosed)) }
        case .failure:
            fail(MuxError(.connectionClosed))
        }
    }

    /// Carries out what the state machine decided. Called after every call into it.
    func drainActions() {
        while let action = state.nextAction() {
            switch action {
            case .sendControl(let header):
                // FIN and RST end a stream's data, so they queue behind it; everything else
                // (window updates, SYN/ACK, pings, GoAway) jumps ahead of bulk data.
                if header.flags.contains(.fin) || header.flags.contains(.rst) {
                    outboundData.append(headerArena.slice(for: header))
                } else {
                    outboundControl.append(headerArena.slice(for: header))
                }
                counters.framesSent += 1
                wakeWriter()
            case .deliver(let streamID, let payload):
                guard let entry = streams[streamID] else { continue }
                for slice in payload {
                    entry.received.append(slice)
                    if slice.holdsReceiveBuffer { pinnedSlices += 1 }
                    counters.payloadBytesReceived += UInt64(slice.count)
                }
                entry.reader?.resume()
                entry.reader = nil
                if pinnedSlices > pinnedSliceLimit { unpinQueuedSlices() }
            case .streamOpened(let streamID):
                streams[streamID] = MuxStreamEntry()
                if !acceptWaiters.isEmpty, let accepted = state.acceptStream(nowNanoseconds: nowNanoseconds) {
                    acceptWaiters.removeFirst().resume(returning: .success(accepted))
                }
            case .streamAcknowledged:
                break
            case .streamFinished(let streamID):
                if let entry = streams[streamID] {
                    entry.finished = true
                    entry.wakeAll()
                }
            case .streamClosed(let streamID):
                if let entry = streams[streamID] {
                    entry.closed = true
                    entry.wakeAll()
                }
            case .streamReset(let streamID):
                if let entry = streams[streamID] {
                    entry.failure = MuxError(.streamReset, streamID: streamID)
                    entry.wakeAll()
                }
            case .streamWritable(let streamID):
                streams[streamID]?.wakeAll()
            case .openSlotAvailable:
                for waiter in openWaiters { waiter.resume() }
                openWaiters.removeAll()
            case .remoteGoAway:
                for waiter in openWaiters { waiter.resume() }
                openWaiters.removeAll()
            case .pingAnswered(let opaque, let rttNanoseconds):
                pingWaiters.removeValue(forKey: opaque)?.resume(returning: .success(rttNanoseconds))
            case .pingTimedOut(let opaque):
                pingWaiters.removeValue(forKey: opaque)?.resume(
                    returning: .failure(MuxError(.keepAliveTimeout, value: UInt64(opaque))))
            case .sessionFailed(let error):
                fail(error)
            }
        }
    }

    /// Copies every queued, unread slice that still holds a reactor receive buffer into memory of
    /// its own, so the buffers go back to the kernel.
    ///
    /// Why: unread stream data would otherwise keep the reactor's provided buffers. Once they are
    /// all held, the session socket cannot be read — not even the window update or FIN that the
    /// readers of those streams are waiting for — and the session deadlocks. The windows bound how
    /// much is copied; a reader that keeps up never triggers this (see `MuxCounters.bytesCopied`).
    func unpinQueuedSlices() {
        for streamID in Array(streams.keys) {
            guard let entry = streams[streamID], entry.hasQueuedData else { continue }
            for index in entry.receivedReadIndex..<entry.received.count where entry.received[index].holdsReceiveBuffer {
                let slice = entry.received[index]
                entry.received[index] = slice.copied()
                counters.bytesCopied += UInt64(slice.count)
            }
        }
        pinnedSlices = 0
    }

    /// Ends the session with `error`: every waiter and stream fails with it; queued frames (a
    /// GoAway) are still written, then the loops end and the socket is closed.
    func fail(_ error: MuxError) {
        guard failure == nil else { return }
        failure = error
        if !state.isFailed {
            // A local close or a broken connection: the state machine drops its streams too.
            state.connectionClosed()
            while let action = state.nextAction() {
                if case .sendControl(let header) = action { outboundControl.append(headerArena.slice(for: header)) }
            }
        }
        for entry in streams.values {
            if entry.failure == nil, !(entry.finished && entry.closed) { entry.failure = error }
            entry.wakeAll()
        }
        for waiter in acceptWaiters { waiter.resume(returning: .failure(error)) }
        acceptWaiters.removeAll()
        for waiter in openWaiters { waiter.resume() }
        openWaiters.removeAll()
        for (_, waiter) in pingWaiters { waiter.resume(returning: .failure(error)) }
        pingWaiters.removeAll()
        wakeWriter()
        // Stop reading and ticking now; the writer flushes what is queued (a GoAway) and ends.
        if receiving {
            receiving = false
            loopEnded()
        }
        tickerTask?.cancel()
    }
}
