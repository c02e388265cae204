import Glibc
import SystemPackage
import Testing
import TetherTesting

@testable import TetherReactor

extension ReactorSuite {
    @Suite(.timeLimit(.minutes(1))) struct ProcessTests {
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

        /// Several tasks wait at once: one `waitid` answers them all. The first waiter starts it
        /// and gives up once it is in the kernel; the `waitid` keeps running for the others, who
        /// join it rather than start their own.
        @Test func concurrentWaitersAllGetTheStatus() async throws {
            try await withReactor { reactor in
                let child = try ChildProcess.spawn(
                    executable: "/bin/sleep", arguments: ["1000"], environment: [], on: reactor)
                let quitter = Task(executorPreference: reactor) { try await child.waitForExit() }
                // Counted with `Task.sleep` between looks: a reactor sleep would be in flight too.
                #expect(try await eventually { await reactor.counters().operationsInFlight == 1 }, "waitid submitted")
                quitter.cancel()
                await #expect(throws: CancellationError.self) { _ = try await quitter.value }
                #expect(await reactor.counters().operationsInFlight == 1, "the waitid outlives its first waiter")
                let waiters = (0..<4).map { _ in Task(executorPreference: reactor) { try await child.waitForExit() } }
                // All four have registered; a `waitid` one of them started would be in flight now.
                #expect(try await eventually { child.exitWaiterCount == 4 }, "the waiters registered")
                let inFlight = await reactor.counters().operationsInFlight
                #expect(inFlight == 1, "the waiters join the waitid in flight")
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
            // No O_CLOEXEC. Above 3, which `ls` itself takes to read the directory: a free 3 is
            // held by another such descriptor (the child closes it too).
            var held: [FileDescriptor] = []
            var strayDescriptor = try FileDescriptor.open(FilePath("/dev/null"), .readOnly)
            while strayDescriptor.rawValue <= 3 {
                held.append(strayDescriptor)
                strayDescriptor = try FileDescriptor.open(FilePath("/dev/null"), .readOnly)
            }
            defer { for descriptor in held + [strayDescriptor] { try? descriptor.close() } }
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

extension ReactorSuite {
    /// Children are reaped whatever their handles' owners do: a dropped handle leaves the child
    /// running and watched by the reactor; shutdown kills and reaps what is left.
    @Suite(.timeLimit(.minutes(1))) struct ChildReapingTests {
        /// A handle dropped (or closed) while its child runs: the child is not killed, and when it
        /// exits later the reactor reaps it (no zombie) and closes its pidfd.
        @Test(arguments: [false, true])
        func aReleasedHandleLeavesTheChildRunningAndReapsItWhenItExits(closedFirst: Bool) async throws {
            try await withReactor { reactor in
                // A process-wide count: sound only while no other test runs (`--no-parallel`).
                let descriptors = DescriptorSnapshot()
                let (stdinReader, stdinWriter) = try reactor.makePipe()
                let stdin = [ChildProcess.FileMapping(stdinReader.fileDescriptor, as: .standardInput)]
                let pid: Int32
                if closedFirst {
                    let child = try ChildProcess.spawn(
                        executable: "/bin/sh", arguments: ["-c", "read line"], environment: [], files: stdin,
                        on: reactor)
                    try await child.close()
                    pid = child.pid
                } else {
                    pid = try spawnAndDrop("/bin/sh", ["-c", "read line"], files: stdin, on: reactor)
                }
                try await stdinReader.close()
                for _ in 0..<10 { try await reactor.sleep(for: .milliseconds(2)) }
                let state = ProcessResources.processState(pid)
                #expect(
                    ProcessResources.isRunning(pid),
                    "releasing the handle must not end the child (state \(String(describing: state)))")
                // End of file on its stdin: `read` fails and the shell exits.
                try await stdinWriter.close()
                #expect(
                    try await eventually(on: reactor) { !ProcessResources.childProcessIDs().contains(pid) },
                    "the exited child must be reaped")
                #expect(ProcessResources.processState(pid) == nil)
                #expect(await reactor.counters().operationsInFlight == 0)
                #expect(descriptors.added == 0)
            }
        }

        /// Shutdown with a running child that leads a group holding a grandchild, and a running
        /// child whose handle was dropped: all are killed, the children are reaped before
        /// shutdown returns, and no descriptor is left.
        @Test func shutdownKillsAndReapsRunningChildrenAndTheirGroups() async throws {
            try await ProcessResources.openDispatchTimer()  // `eventually` below sleeps with Task.sleep
            // A process-wide count: sound only while no other test runs (`--no-parallel`).
            let descriptors = DescriptorSnapshot()
            let reactor = try Reactor.start()
            let (output, outputWriter) = try reactor.makePipe()
            let leader = try ChildProcess.spawn(
                executable: "/bin/sh", arguments: ["-c", "sleep 60 & echo $!; wait"], environment: [],
                files: [.init(outputWriter.fileDescriptor, as: .standardOutput)], newProcessGroup: true, on: reactor)
            try await outputWriter.close()
            var text = ""
            while !text.contains("\n"), let slice = try await output.read() {
                text += String(decoding: slice.bytes, as: UTF8.self)
            }
            try await output.close()
            let grandchild = try #require(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)))
            let dropped = try spawnAndDrop("/bin/sleep", ["60"], on: reactor)
            #expect(ProcessResources.isRunning(grandchild))
            #expect(ProcessResources.isRunning(dropped))

            await reactor.shutdown()

            let children = ProcessResources.childProcessIDs()
            #expect(!children.contains(leader.pid), "the group leader must be reaped")
            #expect(!children.contains(dropped), "the dropped child must be reaped")
            // The grandchild's parent (the shell) is gone: it was re-parented and is reaped there.
            // It only has to be dead: absent, or a zombie for its new parent to collect.
            #expect(
                try await eventually(attempts: 1000) { !ProcessResources.isRunning(grandchild) },
                "the grandchild must be killed with its group")
            #expect(descriptors.added == 0)
        }
    }
}

extension ReactorSuite {
    /// A handle that let go of its pidfd signals no one: the reactor may have reaped the child
    /// and closed the pidfd without the handle seeing the exit, and the pid, its group, or the
    /// descriptor's number may name another process by then.
    @Suite(.timeLimit(.minutes(1))) struct ReleasedChildSignalTests {
        /// Closed while running, then reaped by the reactor: the pidfd's number goes to the next
        /// child's pidfd. Signals through the old handle fail with `closed` and the next child
        /// lives on.
        @Test(arguments: [false, true])
        func signalsThroughAClosedHandleReachNoOtherProcess(toGroup: Bool) async throws {
            // `eventually` below sleeps with Task.sleep: let libdispatch open its timerfd first, so
            // that it does not take the freed number.
            try await ProcessResources.openDispatchTimer()
            try await withReactor { reactor in
                let first = try ChildProcess.spawn(
                    executable: "/bin/sh", arguments: ["-c", "exit 0"], environment: [], newProcessGroup: true,
                    on: reactor)
                try await first.close()
                #expect(
                    try await eventually(on: reactor) { !ProcessResources.childProcessIDs().contains(first.pid) },
                    "the reactor reaps the child")
                // The reaping `waitid` completed and closed the pidfd in the same step.
                #expect(try await eventually { await reactor.counters().operationsInFlight == 0 })
                #expect(first.exitStatus == nil, "the handle never saw the exit")
                let second = try ChildProcess.spawn(
                    executable: "/bin/sleep", arguments: ["1000"], environment: [], on: reactor)
                // Its pidfd takes the lowest free number: as a rule the one the first pidfd had
                // (not checked: another thread may open or close a descriptor meanwhile).
                let error = #expect(throws: ReactorError.self) {
                    if toGroup {
                        try first.sendToProcessGroup(signal: SIGKILL)
                    } else {
                        try first.send(signal: SIGKILL)
                    }
                }
                #expect(error?.code == .closed)
                #expect(ProcessResources.isRunning(second.pid), "the signal reached the next child")
                try second.send(signal: SIGKILL)
                #expect(try await second.waitForExit() == .signaled(signal: SIGKILL, coreDumped: false))
                try await second.close()
            }
        }

        /// After a shutdown, which killed, reaped and closed what the reactor still had, a handle
        /// still held refuses to signal.
        @Test func signalsAfterShutdownAreRefused() async throws {
            let reactor = try Reactor.start()
            let child = try ChildProcess.spawn(
                executable: "/bin/sleep", arguments: ["1000"], environment: [], newProcessGroup: true, on: reactor)
            await reactor.shutdown()
            #expect(!ProcessResources.childProcessIDs().contains(child.pid))
            #expect(throws: ReactorError.self) { try child.send(signal: SIGTERM) }
            let error = #expect(throws: ReactorError.self) { try child.sendToProcessGroup(signal: SIGTERM) }
            #expect(error?.code == .closed)
        }
    }
}

/// Spawns `executable` and drops the handle at once; returns the child's pid.
private func spawnAndDrop(
    _ executable: String, _ arguments: [String], files: [ChildProcess.FileMapping] = [], on reactor: Reactor
) throws -> Int32 {
    let child = try ChildProcess.spawn(
        executable: executable, arguments: arguments, environment: [], files: files, on: reactor)
    return child.pid
}
