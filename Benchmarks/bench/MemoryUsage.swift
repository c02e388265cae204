import Foundation
import Glibc
import TetherReactor

/// Memory figures of this process, from `/proc/self/statm`.
enum MemoryUsage {
    /// Resident set size in bytes of this process, or of process `pid` (0 when it cannot be read).
    static func residentBytes(of pid: Int32? = nil) -> Int {
        let path = "/proc/\(pid.map(String.init) ?? "self")/statm"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * 4096
    }

    /// Resident memory of process `pid` that is not a file's pages (`RssAnon` in
    /// `/proc/PID/status`: heap, stacks, buffers), in bytes; 0 when it cannot be read.
    static func anonymousBytes(of pid: Int32) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("RssAnon:") }),
            let kib = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { return 0 }
        return kib * 1024
    }

    /// Bytes allocated with malloc and not yet freed (glibc's `mallinfo2().uordblks`).
    static func heapBytes() -> Int { ProcessMemory.heapBytesInUse() }

    /// Open file descriptors of this process.
    static func openDescriptors() -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 1) - 1
    }
}
