import Foundation
import Glibc
import TetherReactor

/// Memory figures of this process, from `/proc/self/statm`.
enum MemoryUsage {
    /// Resident set size in bytes of this process.
    static func residentBytes() -> Int { Int(statusMiB(of: nil, "VmRSS:") * 1_048_576) }

    /// The figure of the line starting with `key` in `/proc/PID/status` (this process's when
    /// `pid` is nil), given there in KiB, in MiB; 0 when it cannot be read. `VmRSS:` is the
    /// resident memory; `RssAnon:` the part that is not a file's pages (heap, stacks, buffers).
    static func statusMiB(of pid: Int32?, _ key: String) -> Double { status(of: pid, key) / 1024 }

    /// The number on the line starting with `key` in `/proc/PID/status` (this process's when
    /// `pid` is nil), as the file gives it (KiB for memory, a count for `Threads:`); 0 when it
    /// cannot be read.
    static func status(of pid: Int32?, _ key: String) -> Double {
        let path = "/proc/\(pid.map(String.init) ?? "self")/status"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key) }),
            let value = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap({
                Double($0)
            })
        else { return 0 }
        return value
    }

    /// Bytes allocated with malloc and not yet freed (glibc's `mallinfo2().uordblks`).
    static func heapBytes() -> Int { ProcessMemory.heapBytesInUse() }

    /// Open file descriptors of this process.
    static func openDescriptors() -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 1) - 1
    }

    /// Open file descriptors of process `pid` (-1 when its `/proc` entry cannot be read).
    static func openDescriptors(of pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }
}
