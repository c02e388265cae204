import Foundation
import Testing
import TetherReactor
import TetherTesting

extension ReactorSuite {
    /// `ChildRun`, the helper tests run programs with: status, output and input as the program
    /// saw them, and nothing of the run left open once it returns (the leak checks that follow it
    /// count on that).
    @Suite(.timeLimit(.minutes(1))) struct ChildRunTests {
        @Test func statusOutputAndInputComeThrough() async throws {
            let result = try await ChildRun.run(
                "/bin/sh", ["-c", "read line; echo \"got $line\"; echo oops >&2; exit 3"], input: "hello\n")
            #expect(result.status == 3)
            #expect(result.stdout == "got hello\n")
            #expect(result.stderr == "oops\n")
        }

        @Test func aChildKilledByASignalReportsOneHundredTwentyEightPlusIt() async throws {
            #expect(try await ChildRun.run("/bin/sh", ["-c", "kill -9 $$"]).status == 128 + 9)
        }

        /// A cancelled wait ends the run at once: the program and what it started are killed and
        /// reaped, and nothing of the run stays open.
        @Test func aCancelledRunLeavesNothingRunning() async throws {
            let children = Set(ProcessResources.childProcessIDs())
            let descriptors = DescriptorSnapshot.ignoringRunLoops()
            // A duration no other process uses marks both `sh` and its `sleep` (`; true` keeps
            // `sh` from exec'ing it): the grandchild is what only a group kill reaches.
            let marker = "\(UInt32.random(in: 100_000_000...999_999_999))"
            let run = Task { try await ChildRun.run("/bin/sh", ["-c", "sleep \(marker); true"]) }
            let started = try await eventually { Self.processes(named: marker).count == 2 }
            try #require(started, "the program and its sleep did not start")
            run.cancel()
            await #expect(throws: CancellationError.self) { _ = try await run.value }
            #expect(Set(ProcessResources.childProcessIDs()) == children)
            #expect(try await eventually { Self.processes(named: marker).isEmpty }, "a process outlived the run")
            #expect(descriptors.added == 0)
        }

        /// Processes whose command line contains `text`, from /proc.
        private static func processes(named text: String) -> [Int32] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            return names.compactMap { name in
                guard let pid = Int32(name),
                    let line = try? String(contentsOfFile: "/proc/\(name)/cmdline", encoding: .utf8),
                    line.contains(text), ProcessResources.isRunning(pid)
                else { return nil }
                return pid
            }
        }

        @Test func aMissingProgramIsSpawnFailed() async throws {
            let error = await #expect(throws: ReactorError.self) {
                _ = try await ChildRun.run("/nonexistent/program", [])
            }
            #expect(error?.code == .spawnFailed)
        }

        /// Checked at once after each run, with no waiting: every descriptor of the run is
        /// closed and the child reaped before `run` returns. (Needs `--no-parallel`, as every
        /// process-wide count does.)
        @Test func nothingIsLeftOpenWhenItReturns() async throws {
            try await ProcessResources.openDispatchTimer()
            let descriptors = DescriptorSnapshot.ignoringRunLoops()
            // Compared with the children there were before, not with none: a sanitizer runtime
            // may have started a child of its own earlier in the run (TSan's symbolizer).
            let children = Set(ProcessResources.childProcessIDs())
            for round in 0..<20 {
                let result = try await ChildRun.run("/bin/echo", ["\(round)"])
                #expect(result.stdout == "\(round)\n")
                #expect(descriptors.added == 0, "round \(round)")
                #expect(Set(ProcessResources.childProcessIDs()) == children, "round \(round)")
            }
        }
    }
}
