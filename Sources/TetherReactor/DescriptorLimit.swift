import Glibc

/// This process's limit on open file descriptors (`RLIMIT_NOFILE`), for tests that make the
/// kernel run out of descriptors and for hosts that raise their soft limit at start.
package enum DescriptorLimit {
    /// The soft and hard limits.
    package static func current() throws(ReactorError) -> (soft: UInt64, hard: UInt64) {
        var limit = rlimit()
        _ = try syscall("getrlimit RLIMIT_NOFILE") {
            unsafe getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        }
        return (UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
    }

    /// Sets the soft limit (at most the hard limit), process-wide: a new descriptor numbered
    /// `soft` or above fails with `EMFILE`.
    package static func setSoft(_ soft: UInt64) throws(ReactorError) {
        var limit = rlimit()
        _ = try syscall("getrlimit RLIMIT_NOFILE") {
            unsafe getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        }
        limit.rlim_cur = rlim_t(soft)
        _ = try syscall("setrlimit RLIMIT_NOFILE") {
            unsafe setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        }
    }
}
