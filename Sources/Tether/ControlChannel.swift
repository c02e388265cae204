import Synchronization
import TetherMux
import TetherReactor

/// Messages on the control stream (stream 1): 9-byte records, a type byte and a big-endian
/// 64-bit sequence number (docs/wire-protocol.md §10). Type 1 is a ping from the host, type 2 the
/// plugin's pong with the same sequence number; other types are ignored, so later ones can be added.
enum ControlRecord {
    static let byteCount = 9
    static let ping: UInt8 = 1
    static let pong: UInt8 = 2

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

    /// Plugin side: answers every ping until the stream ends.
    static func answerPings(on stream: MuxStream) async {
        var pending: [UInt8] = []
        while let slice = try? await stream.read() {
            pending += slice.bytes
            for record in decode(&pending) where record.type == ping {
                guard (try? await stream.write(encode(type: pong, sequence: record.sequence))) != nil else { return }
            }
        }
    }
}

/// Host side of the control stream: pings and their answers, matched by sequence number.
final class ControlChannel: Sendable {
    private struct State {
        var nextSequence: UInt64 = 0
        var waiting: [UInt64: CheckedContinuation<Bool, Never>] = [:]
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
                state.withLock { $0.waiting.removeValue(forKey: record.sequence) }?.resume(returning: true)
            }
        }
        let waiting = state.withLock { state in
            state.ended = true
            defer { state.waiting.removeAll() }
            return Array(state.waiting.values)
        }
        for waiter in waiting { waiter.resume(returning: false) }
    }

    /// Sends a ping and waits for its pong; false when the stream ended first.
    func ping() async -> Bool {
        let stream = self.stream
        let sequence: UInt64? = state.withLock { state in
            guard !state.ended else { return nil }
            defer { state.nextSequence += 1 }
            return state.nextSequence
        }
        guard let sequence else { return false }
        return await withCheckedContinuation { continuation in
            let registered = state.withLock { state -> Bool in
                guard !state.ended else { return false }
                state.waiting[sequence] = continuation
                return true
            }
            guard registered else {
                continuation.resume(returning: false)
                return
            }
            Task {
                if (try? await stream.write(ControlRecord.encode(type: ControlRecord.ping, sequence: sequence))) == nil {
                    self.state.withLock { $0.waiting.removeValue(forKey: sequence) }?.resume(returning: false)
                }
            }
        }
    }
}
