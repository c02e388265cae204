import SystemPackage
import Testing
import TetherReactor
import TetherTesting

extension ReactorSuite {
    @Suite struct ProcessTests {
        @Test func exitStatusSevenIsReported() async throws {
            try await withReactor { reactor in
                let child = try ChildProcess.spawn(
                    executable: "/bin/sh", arguments: ["-c", "exit 7"], environment: [], on: reactor)
                #expect(try await child.waitForExit() == .exited(code: 7))
                #expect(try await child.waitForExit() == .exited(code: 7))
                try await child.close()
                #expect(!ProcessResources.childProcessIDs().contains(child.pid), "waiting reaps the child")
            }
        }

        /// Several tasks wait at once (one of them gives up): one `waitid` answers all the others.
        @Test func concurrentWaitersAllGetTheStatus() async throws {
            try await withReactor { reactor in
                let child = try ChildProcess.spawn(
                    executable: "/bin/sleep", arguments: ["1000"], environment: [], on: reactor)
                let quitter = Task(executorPreference: reactor) { try await child.waitForExit() }
                let waiters = (0..<4).map { _ in Task(executorPreference: reactor) { try await child.waitForExit() } }
                quitter.cancel()
                await #expect(throws: CancellationError.self) { _ = try await quitter.value }
                try child.send(signal: 15)
                for waiter in waiters {
                    #expect(try await waiter.value == .signaled(signal: 15, coreDumped: false))
                }
                try await child.close()
                #expect(!ProcessResources.childProcessIDs().contains(child.pid))
            }
        }

        @Test func killBySIGKILLIsReported() async throws {
            try await withReactor { reactor in
                let child = try ChildProcess.spawn(
                    executable: "/bin/sleep", arguments: ["1000"], environment: [], newProcessGroup: true, on: reactor)
                try child.send(signal: 9)
                #expect(try await child.waitForExit() == .signaled(signal: 9, coreDumped: false))
                try await child.close()
            }
        }

        @Test func missingExecutableIsSpawnFailedWithENOENT() async throws {
            try await withReactor { reactor in
                let error = #expect(throws: ReactorError.self) {
                    _ = try ChildProcess.spawn(executable: "/no/such/binary", environment: [], on: reactor)
                }
                #expect(error?.code == .spawnFailed)
                #expect(error?.errno == .noSuchFileOrDirectory)
            }
        }

        /// A child's stdout read through a pipe on the reactor, to end of file.
        @Test func childOutputThroughAPipe() async throws {
            try await withReactor { reactor in
                let output = try await shellOutput("printf 'hello from the child'", on: reactor)
                #expect(output == "hello from the child")
            }
        }

        /// A descriptor some other code opened without close-on-exec does not leak into the
        /// child: the child sees 0, 1, 2 and nothing else.
        @Test func childInheritsNoStrayDescriptors() async throws {
            let strayDescriptor = try FileDescriptor.open(FilePath("/dev/null"), .readOnly)  // no O_CLOEXEC
            defer { try? strayDescriptor.close() }
            let stray = strayDescriptor.rawValue
            try await withReactor { reactor in
                let listing = try await shellOutput("ls /proc/self/fd", on: reactor)
                // ls itself opens one descriptor (3) to read the directory.
                let descriptors = listing.split(separator: "\n").compactMap { Int32($0) }
                #expect(!descriptors.contains(stray), "inherited \(descriptors)")
                #expect(descriptors.filter { $0 > 3 }.isEmpty, "inherited \(descriptors)")
            }
        }
    }
}

/// Runs `script` with /bin/sh, its stdout on a reactor pipe; returns what it printed once it
/// exited 0.
private func shellOutput(_ script: String, on reactor: Reactor) async throws -> String {
    let (reader, writer) = try reactor.makePipe()
    let child = try ChildProcess.spawn(
        executable: "/bin/sh", arguments: ["-c", script], environment: [],
        files: [.init(writer.fileDescriptor, as: .standardOutput)], on: reactor)
    try await writer.close()
    var output: [UInt8] = []
    while let slice = try await reader.read() { output += slice.bytes }
    let status = try await child.waitForExit()
    #expect(status == .exited(code: 0), "\(script)")
    try await reader.close()
    try await child.close()
    return String(decoding: output, as: UTF8.self)
}
