import Synchronization
import TetherMux
import TetherReactor

/// Messages on the control stream (stream 1): 9-byte records, a type byte and a big-endian
/// 64-bit sequence number (docs/wire-protocol.md §10). Type 1 is a ping from the host, type 2 the
/// plugin's pong with the same sequence number, type 3 the host's quit request (sequence 0: end
/// the process, not only this session; a reattachable plugin needs it, §13); other types are
/// ignored, so later ones can be added.
enum ControlRecord {
    static let byteCount = 9
    static let ping: UInt8 = 1
    static let pong: UInt8 = 2
    static let quit: UInt8 = 3

    static func encode(type: UInt8, sequence: UInt64) -> BufferSlice {
        BufferSlice(count: byteCount) { span in
            span[0] = type
            for index in 0..<8 { span[1 + index] = UInt8(truncatingIfNeeded: sequence >> (56 - 8 * UInt64(index))) }
        }
    }

    /// Cuts complete records out of `pending`, which keeps a partial one.
    static func decode(_ pending: inout [UInt8]) -> [(type: UInt8, sequence: UInt64)] {
        var records: [(UInt8, UInt64)] = []
        var start = 0
        while pending.count - start >= byteCount {
            var sequence: UInt64 = 0
            for index in 1...8 { sequence = sequence << 8 | UInt64(pending[start + index]) }
            records.append((pending[start], sequence))
            start += byteCount
        }
        pending.removeFirst(start)
        return records
    }

    /// Plugin side: answers every ping until the stream ends or the host asks the plugin to
    /// quit; true in that last case.
    @discardableResult
    static func answerPings(on stream: MuxStream) async -> Bool {
        var pending: [UInt8] = []
        while let slice = try? await stream.read() {
            pending += slice.bytes
            for record in decode(&pending) {
                if record.type == quit { return true }
                guard record.type == ping else { continue }
                guard (try? await stream.write(encode(type: pong, sequence: record.sequence))) != nil else {
                    return false
                }
            }
        }
        return false
    }
}

/// Host side of the control stream: pings and their answers, matched by sequence number.
final class ControlChannel: Sendable {
    /// Where a ping is: sent, answered before its sender waited, waited for, or given up by its
    /// sender (cancelled, or past its timeout) before it waited.
    private enum Pong {
        case pending
        case answered
        case waiting(CheckedContinuation<Bool, Never>)
        case abandoned
    }

    /// How a ping with a timeout ended.
    enum PingOutcome: Sendable {
        case answered
        /// The control stream ended first (the plugin exited, the session closed).
        case ended
        case timedOut
    }

    private struct State {
        var nextSequence: UInt64 = 0
        var pongs: [UInt64: Pong] = [:]
        var ended = false
    }

    private let stream: MuxStream
    private let state = Mutex(State())

    init(stream: MuxStream, reactor: Reactor) {
        self.stream = stream
        Task(executorPreference: reactor) { [self] in await readPongs() }
    }

    private func readPongs() async {
        var pending: [UInt8] = []
        while let slice = try? await stream.read() {
            pending += slice.bytes
            for record in ControlRecord.decode(&pending) where record.type == ControlRecord.pong {
                let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
                    switch state.pongs[record.sequence] {
                    case .waiting(let continuation):
                        state.pongs[record.sequence] = nil
                        return continuation
                    case .pending:
                        state.pongs[record.sequence] = .answered
                        return nil
                    case .abandoned:
                        state.pongs[record.sequence] = nil
                        return nil
                    case .answered, nil:
                        return nil
                    }
                }
                waiter?.resume(returning: true)
            }
        }
        let waiters = state.withLock { state in
            state.ended = true
            defer { state.pongs.removeAll() }
            return state.pongs.values.compactMap { pong -> CheckedContinuation<Bool, Never>? in
                if case .waiting(let continuation) = pong { return continuation }
                return nil
            }
        }
        for waiter in waiters { waiter.resume(returning: false) }
    }

    /// Asks the plugin to end its process (not only this session). The caller bounds the wait:
    /// a plugin that stopped reading can hold the write.
    func requestQuit() async {
        _ = try? await stream.write(ControlRecord.encode(type: ControlRecord.quit, sequence: 0))
    }

    /// Sends a ping and waits for its pong, at most `timeout` (measured by `reactor`).
    ///
    /// - Throws: `CancellationError` when the calling task is cancelled first.
    func ping(within timeout: Duration, on reactor: Reactor) async throws -> PingOutcome {
        let outcome = try await withThrowingTaskGroup(of: PingOutcome.self) { group in
            group.addTask(executorPreference: reactor) { await self.ping() ? .answered : .ended }
            group.addTask(executorPreference: reactor) {
                do {
                    try await reactor.sleep(for: timeout)
                } catch is ReactorError {
                    // No reactor timer (its operation table full, or the reactor stopping): the
                    // timeout still holds, on the task clock.
                    try await Task.sleep(for: timeout)
                }
                return .timedOut
            }
            defer { group.cancelAll() }
            return try await group.next() ?? .ended
        }
        try Task.checkCancellation()
        return outcome
    }

    /// Sends a ping and waits for its pong; false when the stream ended first or the calling
    /// task is cancelled (its entry is dropped then: a pong that comes later finds none).
    func ping() async -> Bool {
        let sequence: UInt64? = state.withLock { state in
            guard !state.ended else { return nil }
            defer { state.nextSequence += 1 }
            state.pongs[state.nextSequence] = .pending
            return state.nextSequence
        }
        guard let sequence else { return false }
        guard (try? await stream.write(ControlRecord.encode(type: ControlRecord.ping, sequence: sequence))) != nil
        else {
            state.withLock { $0.pongs[sequence] = nil }
            return false
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let answer = state.withLock { state -> Bool? in
                    switch state.pongs[sequence] {
                    case .answered:
                        state.pongs[sequence] = nil
                        return true
                    case .pending:
                        state.pongs[sequence] = .waiting(continuation)
                        return nil
                    case .abandoned:
                        state.pongs[sequence] = nil
                        return false  // cancelled before it waited
                    case .waiting, nil:
                        return false  // the stream ended meanwhile
                    }
                }
                if let answer { continuation.resume(returning: answer) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
                switch state.pongs[sequence] {
                case .waiting(let continuation):
                    state.pongs[sequence] = nil
                    return continuation
                case .pending:
                    state.pongs[sequence] = .abandoned
                    return nil
                case .answered:
                    state.pongs[sequence] = nil
                    return nil
                case .abandoned, nil:
                    return nil
                }
            }
            waiter?.resume(returning: false)
        }
    }

    /// Pings sent and not yet answered, ended or given up (for tests: none is left behind).
    var pingsInFlight: Int { state.withLock { $0.pongs.count } }
}
