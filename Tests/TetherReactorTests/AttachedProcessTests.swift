import Glibc
import SystemPackage
import Testing
import TetherReactor
import TetherTesting

extension ReactorSuite {
    /// Processes the reactor did not spawn (a plugin a host reattaches to), watched and
    /// signalled through a pidfd. (`ChildProcess.detach()` is tested with a host process that
    /// detaches and shuts its reactor down: PluginReattachTests.)
    @Suite(.timeLimit(.minutes(1))) struct AttachedProcessTests {
        /// `pid_max` itself is never a pid: attaching to it is ESRCH; 0 names no process.
        @Test func attachingToNoProcessFails() async throws {
            try await withReactor { reactor in
                let text = try String(contentsOfFile: "/proc/sys/kernel/pid_max", encoding: .utf8)
                let unused = try #require(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)))
                let missing = #expect(throws: ReactorError.self) {
                    _ = try AttachedProcess.attach(pid: unused, on: reactor)
                }
                #expect(missing?.errno == .noSuchProcess)
                let zero = #expect(throws: ReactorError.self) { _ = try AttachedProcess.attach(pid: 0, on: reactor) }
                #expect(zero?.errno == .invalidArgument)
            }
        }

        /// The pidfd's readiness tells the end (no status: the process's parent reaps it);
        /// a signal through the handle reaches the process.
        @Test func waitForExitSeesTheEnd() async throws {
            try await withReactor { reactor in
                let child = try ChildProcess.spawn(
                    executable: "/bin/sleep", arguments: ["1000"], environment: [], on: reactor)
                let attached = try AttachedProcess.attach(pid: child.pid, on: reactor)
                #expect(!attached.hasExited)
                let waiter = Task(executorPreference: reactor) { try await attached.waitForExit() }
                try attached.send(signal: SIGTERM)
                try await waiter.value
                #expect(attached.hasExited)
                #expect(try await child.waitForExit() == .signaled(signal: SIGTERM, coreDumped: false))
                // Reaped: a signal through the pidfd is no error and reaches nobody.
                try attached.send(signal: SIGKILL)
                try await attached.close()
                try await child.close()
            }
        }

        /// Closing the handle ends a wait with `closed` and leaves the process running.
        @Test func closeEndsAWaitAndLeavesTheProcessAlone() async throws {
            try await withReactor { reactor in
                let child = try ChildProcess.spawn(
                    executable: "/bin/sleep", arguments: ["1000"], environment: [], on: reactor)
                let attached = try AttachedProcess.attach(pid: child.pid, on: reactor)
                let waiter = Task(executorPreference: reactor) { try await attached.waitForExit() }
                // The wait's poll is in the ring before the close: the close must end it.
                #expect(try await eventually(on: reactor) { await reactor.counters().operationsInFlight == 1 })
                try await attached.close()
                let error = await #expect(throws: ReactorError.self) { try await waiter.value }
                #expect(error?.code == .closed)
                #expect(ProcessResources.isRunning(child.pid))
                try child.send(signal: SIGKILL)
                _ = try await child.waitForExit()
                try await child.close()
            }
        }

        /// A closed handle signals nothing: its pidfd's number is free, and the next descriptor
        /// opened (here another process's pidfd) may have it.
        @Test func aClosedHandleSignalsNoOtherProcess() async throws {
            try await withReactor { reactor in
                let first = try ChildProcess.spawn(
                    executable: "/bin/sleep", arguments: ["1000"], environment: [], on: reactor)
                let attached = try AttachedProcess.attach(pid: first.pid, on: reactor)
                try await attached.close()
                let second = try ChildProcess.spawn(
                    executable: "/bin/sleep", arguments: ["1000"], environment: [], on: reactor)
                let error = #expect(throws: ReactorError.self) { try attached.send(signal: SIGKILL) }
                #expect(error?.code == .closed)
                #expect(attached.hasExited, "a closed handle cannot tell, and says so")
                #expect(ProcessResources.isRunning(first.pid) && ProcessResources.isRunning(second.pid))
                for child in [first, second] {
                    try child.send(signal: SIGKILL)
                    _ = try await child.waitForExit()
                    try await child.close()
                }
            }
        }
    }
}
