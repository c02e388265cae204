import TetherMux
import TetherReactor

// The RPC layer's view of a call's stream: task cancellation resets the stream (the mux's own
// waits do not observe cancellation), and mux failures become RPC errors.
extension MuxStream {
    func readForCall() async throws -> BufferSlice? {
        let slice: BufferSlice?
        do {
            slice = try await withTaskCancellationHandler {
                try await self.read()
            } onCancel: {
                self.resetSoon()
            }
        } catch {
            throw rpcError(for: error)
        }
        // A stream reset by our own cancellation before the read began reads as ended.
        if slice == nil, Task.isCancelled { throw CancellationError() }
        return slice
    }

    func writeForCall(_ bytes: [UInt8], finishing: Bool = false) async throws {
        let slice = BufferSlice(copying: bytes)
        do {
            try await withTaskCancellationHandler {
                if finishing {
                    try await self.writeAndClose([slice])
                } else {
                    try await self.write(slice)
                }
            } onCancel: {
                self.resetSoon()
            }
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

    private func rpcError(for error: any Error) -> any Error {
        if Task.isCancelled { return CancellationError() }
        guard let muxError = error as? MuxError else { return error }
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
    func openStreamForCall() async throws -> MuxStream {
        do {
            return try await openStream()
        } catch {
            throw RPCError(.connectionLost, "cannot open a stream for the call: \(error)")
        }
    }
}
