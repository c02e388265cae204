import SystemPackage

extension Reactor {
    /// Suspends the calling task for `duration`, measured by the kernel (`IORING_OP_TIMEOUT`,
    /// monotonic clock). Timers are operations like any other: no timer thread, no heap.
    ///
    /// - Throws: `CancellationError` when the task is cancelled first (the timer is removed from
    ///   the kernel before this returns), `shutDown` if the reactor stops.
    public func sleep(for duration: Duration) async throws {
        guard duration >= .zero else {
            throw ReactorError(.invalidArgument, operation: "timeout", detail: "negative duration \(duration)")
        }
        // Clamped: `.seconds(Int64.max)` is "practically forever", not an overflow trap.
        let nanoseconds = duration.clampedNanoseconds
        try await withLoop { loop in
            try await loop.run(.timeout(nanoseconds: nanoseconds), decode: { $0.decodeTimeout($1, $2) })
        }
    }

    /// Waits until `fileDescriptor` is ready for `events` (`POLLIN`, `POLLOUT`, …) and returns the
    /// events that are ready. The descriptor stays the caller's.
    public func poll(_ fileDescriptor: FileDescriptor, events: Int16) async throws -> Int16 {
        try await withLoop { loop in
            let operation = Operation.poll(fd: fileDescriptor.rawValue, events: UInt32(UInt16(bitPattern: events)))
            return try await loop.run(operation, decode: { $0.decodePoll($1, $2) })
        }
    }
}
