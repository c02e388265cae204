import Testing
import TetherReactor
import TetherTesting

extension ReactorSuite {
    @Suite(.timeLimit(.minutes(1))) struct LimitTests {
        /// Past `maxInFlightOperations` a new operation fails with `tooManyOperations`; the
        /// operations already in flight are unaffected.
        @Test func operationsBeyondTheLimitAreRefused() async throws {
            var configuration = ReactorConfiguration()
            configuration.maxInFlightOperations = 8
            try await withReactor(configuration: configuration) { reactor in
                var sleepers: [Task<Void, any Error>] = []
                for _ in 0..<8 {
                    sleepers.append(Task(executorPreference: reactor) { try await reactor.sleep(for: .seconds(60)) })
                }
                // Not `eventually(on: reactor)`: its timer would be a ninth operation.
                let started = try await eventually { await reactor.counters().operationsInFlight >= 8 }
                #expect(started)
                let error = await #expect(throws: ReactorError.self) { try await reactor.sleep(for: .seconds(1)) }
                #expect(error?.code == .tooManyOperations)
                for sleeper in sleepers { sleeper.cancel() }
                for sleeper in sleepers { await #expect(throws: CancellationError.self) { try await sleeper.value } }
            }
        }

        /// Poll reports readiness of a descriptor the reactor does not own.
        @Test func pollReportsReadability() async throws {
            try await withReactor { reactor in
                let (reader, writer) = try reactor.makePipe()
                let polling = Task(executorPreference: reactor) {
                    try await reactor.poll(reader.fileDescriptor, events: 0x001)  // POLLIN
                }
                try await writer.write(BufferSlice(copying: [1]))
                let events = try await polling.value
                #expect(events & 0x001 != 0)
                try await reader.close()
                try await writer.close()
            }
        }
    }
}
