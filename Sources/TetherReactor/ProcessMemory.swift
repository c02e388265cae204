import CLibUring

/// Memory figures of this process, for benchmarks and leak checks.
package enum ProcessMemory {
    /// Bytes currently allocated with malloc and not freed (glibc `mallinfo2()`, small and mmap'd
    /// chunks): the
    /// Swift heap, without the allocator's slack or freed-but-retained pages.
    package static func heapBytesInUse() -> Int { Int(tether_heap_bytes_in_use()) }
}
