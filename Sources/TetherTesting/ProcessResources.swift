import Foundation

/// Counts of this process's kernel resources, for leak checks.
public enum ProcessResources {
    /// Open file descriptors, from `/proc/self/fd` (the directory's own fd is not counted).
    public static func openFileDescriptorCount() -> Int {
        // contentsOfDirectory opens the directory once; that fd is closed before it returns, and
        // listing it is excluded by counting the entries only.
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count).map { $0 - 1 } ?? -1
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
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return names.count { name in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(name)")
            else {
                return false  // the directory's own descriptor, closed by now
            }
            return !kinds.contains(target)
        }
    }

    /// The state letter of process `pid` from `/proc/<pid>/stat` (`R`, `S`, `Z` for a zombie, …),
    /// or nil when no such process exists.
    public static func processState(_ pid: Int32) -> Character? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let afterName = text.lastIndex(of: ")")
        else { return nil }
        // "pid (comm) S ...": the state follows the command name, which may itself hold spaces.
        return text[afterName...].dropFirst().first { $0 != " " }
    }

    /// Direct children of this process that still exist (running or zombie), from
    /// `/proc/self/task/*/children`.
    public static func childProcessIDs() -> [Int32] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        var children: [Int32] = []
        for task in tasks {
            guard let text = try? String(contentsOfFile: "/proc/self/task/\(task)/children", encoding: .utf8) else {
                continue
            }
            children += text.split(separator: " ").compactMap {
                Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
        return children
    }
}
