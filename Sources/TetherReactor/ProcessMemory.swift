import CLibUring
import Glibc

/// Memory figures of this process, for benchmarks and leak checks.
package enum ProcessMemory {
    /// Bytes currently allocated with malloc and not freed (glibc `mallinfo2()`, small and mmap'd
    /// chunks): the
    /// Swift heap, without the allocator's slack or freed-but-retained pages.
    package static func heapBytesInUse() -> Int { Int(tether_heap_bytes_in_use()) }
}

/// CPU time this process has used, for benchmarks that report CPU per operation.
package enum ProcessCPUTime {
    /// User + system seconds of this process (every thread), plus, with `children`, of its
    /// children that have exited and been reaped (`getrusage`).
    package static func seconds(includingReapedChildren children: Bool = false) -> Double {
        var total = seconds(__rusage_who_t(RUSAGE_SELF.rawValue))
        if children { total += seconds(__rusage_who_t(RUSAGE_CHILDREN.rawValue)) }
        return total
    }

    private static func seconds(_ who: __rusage_who_t) -> Double {
        var usage = rusage()
        guard unsafe getrusage(who, &usage) == 0 else { return 0 }
        func value(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return value(usage.ru_utime) + value(usage.ru_stime)
    }
}
