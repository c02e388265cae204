import Foundation

/// Counts of this process's kernel resources, for leak checks.
///
/// The counts are process-wide: a check is only sound while no other test runs in the process
/// (`swift test --no-parallel`, as `make test` runs them). They come from `/proc`; when it cannot
/// be read the process stops with the reason, rather than a count of zero letting every leak
/// check pass.
public enum ProcessResources {
    /// Open file descriptors, from `/proc/self/fd` (the directory's own fd is not counted).
    public static func openFileDescriptorCount() -> Int {
        // contentsOfDirectory opens the directory once; that fd is closed before it returns, and
        // listing it is excluded by counting the entries only.
        procDirectory("/proc/self/fd").count - 1
    }

    /// The names in the `/proc` directory `path`; stops the process if it cannot be read.
    private static func procDirectory(_ path: String) -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            fatalError("leak checks need /proc: cannot list \(path): \(error)")
        }
    }

    /// Kinds of descriptor that Foundation's run loop holds on a worker thread of the concurrency
    /// pool (an epoll, a timerfd, an eventfd) and closes when the idle thread exits, seconds later,
    /// in the middle of another test.
    public static let runLoopDescriptorKinds: Set<String> = [
        "anon_inode:[eventpoll]", "anon_inode:[timerfd]", "anon_inode:[eventfd]",
    ]

    /// Open file descriptors whose `/proc/self/fd` link target is not in `kinds` (e.g.
    /// ``runLoopDescriptorKinds``, for checks that run while Foundation's run loops come and go).
    public static func openFileDescriptorCount(excluding kinds: Set<String>) -> Int {
        procDirectory("/proc/self/fd").count { name in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(name)")
            else {
                return false  // the directory's own descriptor, closed by now
            }
            return !kinds.contains(target)
        }
    }

    /// The state letter of process `pid` from `/proc/<pid>/stat` (`R`, `S`, `Z` for a zombie, …),
    /// or nil when no such process exists. Stops the process if `/proc` cannot be read at all
    /// (this process's own `stat` is missing): "no such process" would be a guess then.
    public static func processState(_ pid: Int32) -> Character? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let afterName = text.lastIndex(of: ")")
        else {
            guard FileManager.default.isReadableFile(atPath: "/proc/self/stat") else {
                fatalError("process checks need /proc: /proc/self/stat is not readable")
            }
            return nil
        }
        // "pid (comm) S ...": the state follows the command name, which may itself hold spaces.
        return text[afterName...].dropFirst().first { $0 != " " }
    }

    /// True while process `pid` exists and has not ended: neither a zombie (`Z`) nor dead (`X`).
    public static func isRunning(_ pid: Int32) -> Bool {
        processState(pid).map { $0 != "Z" && $0 != "X" } ?? false
    }

    /// Sleeps a millisecond with `Task.sleep`, so that libdispatch opens the timerfd it keeps from
    /// its first timer on: a descriptor count taken afterwards does not see it appear mid-test.
    public static func openDispatchTimer() async throws {
        try await Task.sleep(for: .milliseconds(1))
    }

    /// Direct children of this process that still exist (running or zombie), from
    /// `/proc/self/task/*/children`. Stops the process if none of those files can be read (no
    /// `/proc`, or a kernel without `CONFIG_PROC_CHILDREN`): an empty list would pass every
    /// "reaped" check.
    public static func childProcessIDs() -> [Int32] {
        var children: [Int32] = []
        var readAny = false
        for task in procDirectory("/proc/self/task") {
            // A thread may exit between the listing and the read: its file is gone then.
            guard let text = try? String(contentsOfFile: "/proc/self/task/\(task)/children", encoding: .utf8) else {
                continue
            }
            readAny = true
            children += text.split(separator: " ").compactMap {
                Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
        // The calling thread's own file at least exists while it runs.
        guard readAny else { fatalError("child checks need /proc/self/task/*/children, none is readable") }
        return children
    }
}

/// This process's open descriptors, counted when the snapshot is taken: a leak check takes one
/// before the work and expects ``added`` to be 0 after it.
public struct DescriptorSnapshot: Sendable {
    /// Kinds of descriptor (`/proc/self/fd` link targets) that no count includes.
    public let excludedKinds: Set<String>
    /// The descriptors open when the snapshot was taken.
    public let count: Int

    /// Counts every open descriptor, or all but those of `excludedKinds`.
    public init(excluding excludedKinds: Set<String> = []) {
        self.excludedKinds = excludedKinds
        self.count = Self.count(excluding: excludedKinds)
    }

    /// Every descriptor but those of Foundation's run loops
    /// (``ProcessResources/runLoopDescriptorKinds``), which come and go with the concurrency
    /// pool's threads: for checks that run while those threads start and stop. Sockets, pipes,
    /// pidfds and rings are all counted.
    public static func ignoringRunLoops() -> DescriptorSnapshot {
        DescriptorSnapshot(excluding: ProcessResources.runLoopDescriptorKinds)
    }

    /// The descriptors open now, counted as the snapshot was.
    public func currentCount() -> Int { Self.count(excluding: excludedKinds) }

    /// How many more descriptors are open now than at the snapshot (negative when fewer are).
    public var added: Int { currentCount() - count }

    private static func count(excluding kinds: Set<String>) -> Int {
        kinds.isEmpty
            ? ProcessResources.openFileDescriptorCount()
            : ProcessResources.openFileDescriptorCount(excluding: kinds)
    }
}
