import Foundation

/// Counts of this process's kernel resources, for leak checks.
public enum ProcessResources {
    /// Open file descriptors, from `/proc/self/fd` (the directory's own fd is not counted).
    public static func openFileDescriptorCount() -> Int {
        // contentsOfDirectory opens the directory once; that fd is closed before it returns, and
        // listing it is excluded by counting the entries only.
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count).map { $0 - 1 } ?? -1
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
