import Foundation
import Glibc
import TetherReactor

/// Memory figures of this process, from `/proc/self/statm`.
enum MemoryUsage {
    /// Resident set size in bytes.
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * 4096
    }

    /// Bytes allocated with malloc and not yet freed (glibc's `mallinfo2().uordblks`).
    static func heapBytes() -> Int { ProcessMemory.heapBytesInUse() }

    /// Open file descriptors of this process.
    static func openDescriptors() -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 1) - 1
    }
}
