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
            // Compared with the children there were before, not with none: under TSan the
            // runtime keeps a symbolizer child of its own.
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
