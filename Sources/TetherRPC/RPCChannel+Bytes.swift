import TetherMessagePack
import TetherMux
import TetherReactor

// Calls whose streamed argument or result is a `ByteStream`: after the call message (caller) or
// the `[3, nil]` result (callee), the rest of that direction of the call's stream is raw bytes
// until FIN (docs/wire-protocol.md, 11.6).
extension RPCChannel {
    /// A call that sends a byte stream and has one result.
    ///
    /// With a ``timeout``, the call fails with ``RPCError/Code-swift.struct/deadlineExceeded``
    /// when the result has not arrived in time, however far the upload got. When the producer of
    /// `bytes` throws, the stream is reset and the call throws the producer's error; when the
    /// callee answers before reading every byte, the producer is cancelled and the answer stands.
    public func clientStreaming<Result: Decodable>(
        _ method: String, sending bytes: ByteStream, returning: Result.Type,
        arguments: (inout RPCArgumentEncoder) throws -> Void
    ) async throws -> Result {
        var value = try await streamingCall(method, arguments: arguments) { stream in
            await Self.send(bytes, on: stream)
        }
        return try context.decodeValue(Result.self, from: &value)
    }

    /// A call that sends a byte stream and has no result.
    public func clientStreaming(
        _ method: String, sending bytes: ByteStream, arguments: (inout RPCArgumentEncoder) throws -> Void
    ) async throws {
        _ = try await streamingCall(method, arguments: arguments) { stream in
            await Self.send(bytes, on: stream)
        }
    }

    /// A call whose result is a byte stream. Returns once the callee started it (its `[3, nil]`
    /// arrived); throws the callee's failure before that.
    ///
    /// With a ``timeout``, the deadline covers the whole transfer: a read after it passes throws
    /// ``RPCError/Code-swift.struct/deadlineExceeded`` (the stream is reset).
    public func serverStreamingBytes(
        _ method: String, arguments: (inout RPCArgumentEncoder) throws -> Void
    ) async throws -> ByteStream {
        try await explaining {
            let stream = try await start(method, finishing: true, arguments: arguments)
            return try await receiveBytes(on: stream, companion: nil)
        }
    }

    /// A call that sends a byte stream and receives one; both directions flow at once. Returns
    /// once the callee started its stream (its `[3, nil]` arrived), sending meanwhile.
    ///
    /// The bytes sent stop when the returned stream is dropped. When the callee fails the call
    /// before it starts its stream, this throws the producer's own failure if it had one, else
    /// the callee's.
    public func bidirectionalBytes(
        _ method: String, sending bytes: ByteStream, arguments: (inout RPCArgumentEncoder) throws -> Void
    ) async throws -> ByteStream {
        try await explaining {
            let stream = try await start(method, finishing: false, arguments: arguments)
            let sender = Task(executorPreference: session.reactor) { await Self.send(bytes, on: stream) }
            do {
                return try await receiveBytes(on: stream, companion: RPCCompanionTask(sender))
            } catch {
                sender.cancel()
                if let producerError = await sender.value, !(producerError is CancellationError) {
                    throw producerError
                }
                throw error
            }
        }
    }

    /// Reads the callee's `[3, nil]` (or its failure) and returns the raw bytes after it. The
    /// channel's deadline starts here and lasts until the bytes end.
    private func receiveBytes(on stream: MuxStream, companion: RPCCompanionTask?) async throws -> ByteStream {
        let deadline = startDeadline(resetting: stream).map {
            RPCTransferDeadline(expiry: $0.expiry, timer: $0.timer, timeout: timeout!)
        }
        var messages = context.messages(on: stream)
        let response: Result<MessagePackReader, any Error>
        do {
            response = try await awaitResponse(from: &messages)
        } catch {
            if let deadline, deadline.expiry.hasExpired {
                throw RPCError(.deadlineExceeded, "no response within \(deadline.timeout)")
            }
            throw error
        }
        var value = try response.get()
        guard value.readIsNil(), value.isAtEnd else {
            throw RPCError(.protocolViolation, "a byte-stream result starts with [3, nil] on stream \(stream.id)")
        }
        let reader = RPCByteReader(
            stream: stream, first: messages.takeRemainder(), context: context, deadline: deadline,
            companion: companion)
        return ByteStream(remote: RPCRemoteBytes(reader: reader))
    }

    /// Sends `bytes` as they are, then FIN; on failure resets the stream and returns the error.
    static func send(_ bytes: ByteStream, on stream: MuxStream) async -> (any Error)? {
        do {
            try await bytes.forEachChunk { slices in try await stream.writeForCall(slices: slices) }
            try await stream.closeWriteForCall()
            return nil
        } catch {
            await stream.reset()
            return error
        }
    }
}
