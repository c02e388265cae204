import TetherMux
import TetherReactor

// The RPC layer's view of a call's stream: a wait ended by task cancellation resets the stream
// (the mux throws `cancelled` and leaves the stream as it was), and mux failures become RPC errors.
extension MuxStream {
    /// - Parameter resettingOnCancellation: false leaves a stream whose read was cancelled as it
    ///   is, for a caller that still answers on it.
    func readForCall(resettingOnCancellation: Bool = true) async throws -> BufferSlice? {
        do {
            return try await read()
        } catch {
            throw rpcError(for: error, resettingOnCancellation: resettingOnCancellation)
        }
    }

    func writeForCall(_ bytes: [UInt8], finishing: Bool = false) async throws {
        let slice = BufferSlice(copying: bytes)
        do {
            if finishing {
                try await writeAndClose([slice])
            } else {
                try await write(slice)
            }
        } catch {
            throw rpcError(for: error)
        }
    }

    /// Writes `slices` as they are (the bytes of a ``ByteStream``: no copy). Checks for the
    /// task's cancellation first: a write the window has room for does not wait, so the mux
    /// would not see it, and a producer that keeps up would never stop.
    func writeForCall(slices: [BufferSlice]) async throws {
        if Task.isCancelled {
            resetSoon()
            throw CancellationError()
        }
        do {
            try await write(slices)
        } catch {
            throw rpcError(for: error)
        }
    }

    func closeWriteForCall() async throws {
        do {
            try await closeWrite()
        } catch {
            throw rpcError(for: error)
        }
    }

    /// Resets the stream from synchronous code (a cancellation handler, a failure callback).
    func resetSoon() {
        Task(executorPreference: session.reactor) { await self.reset() }
    }

    /// The RPC error for a failed mux operation. A wait cancelled by the task's cancellation
    /// resets the stream: that is how the other side learns the call was cancelled.
    private func rpcError(for error: any Error, resettingOnCancellation: Bool = true) -> any Error {
        guard let muxError = error as? MuxError else { return error }
        if muxError.code == .cancelled || Task.isCancelled {
            if resettingOnCancellation { resetSoon() }
            return CancellationError()
        }
        switch muxError.code {
        case .streamReset:
            return RPCError(.cancelled, "the other side reset the call's stream \(id)")
        case .streamClosed:
            return RPCError(.cancelled, "the call's stream \(id) was reset")
        default:
            return RPCError(.connectionLost, "\(muxError)")
        }
    }
}

extension MuxSession {
    /// A stream for a call. A caller cancelled while the open waits for an ACK slot ends with
    /// `CancellationError`, as a call cancelled at any later point does.
    func openStreamForCall() async throws -> MuxStream {
        do {
            return try await openStream()
        } catch  where error.code == .cancelled {
            throw CancellationError()
        } catch {
            throw RPCError(.connectionLost, "cannot open a stream for the call: \(error)")
        }
    }
}
