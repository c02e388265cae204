import SystemPackage

/// An error from the reactor or from one of its operations.
///
/// Every error names the operation that failed and, where the kernel reported it, the `Errno`.
/// Compare ``code`` with the static members (`error.code == .shutDown`) or read ``errno``;
/// ``detail`` says more for people.
public struct ReactorError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, independent of the operation: one of the static members, compared by
    /// ``name``.
    ///
    /// A code is its name rather than a case of a public enum, so new codes can be added without
    /// breaking a `switch` in user code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's stable name, the same as its static member's (`"shutDown"`).
        public let name: String

        fileprivate init(name: String) { self.name = name }

        /// io_uring cannot be used in this process (seccomp, `kernel.io_uring_disabled`, old kernel).
        public static let ringUnavailable = Code(name: "ringUnavailable")
        /// The ring could be created in principle but setup failed (bad configuration, no memory).
        public static let ringSetupFailed = Code(name: "ringSetupFailed")
        /// The reactor is shutting down or has shut down; the operation did not run or was cancelled.
        public static let shutDown = Code(name: "shutDown")
        /// More operations in flight than ``ReactorConfiguration/maxInFlightOperations``.
        public static let tooManyOperations = Code(name: "tooManyOperations")
        /// A second `receive()` was started while one was still waiting on the same handle.
        public static let concurrentReceive = Code(name: "concurrentReceive")
        /// The handle was closed before or during the operation.
        public static let closed = Code(name: "closed")
        /// The kernel reported an error; see ``ReactorError/errno``.
        public static let system = Code(name: "system")
        /// An argument was rejected before anything was submitted.
        public static let invalidArgument = Code(name: "invalidArgument")
        /// `posix_spawn` failed; see ``ReactorError/errno``.
        public static let spawnFailed = Code(name: "spawnFailed")
        /// The reactor thread could not be started.
        public static let threadStartFailed = Code(name: "threadStartFailed")
        /// The socket's sends were ended by `StreamSocket.abort()` before the kernel took every byte.
        public static let aborted = Code(name: "aborted")
        /// ``Reactor/withDeadline(_:_:)`` cancelled its body because the time ran out.
        public static let timedOut = Code(name: "timedOut")

        /// The ``name``.
        public var description: String { name }
    }

    /// What went wrong.
    public let code: Code
    /// The operation that failed, e.g. `"connect"` or `"recv"`.
    public let operation: String
    /// The kernel's error number, when the kernel reported one.
    public let errno: Errno?
    /// Extra human-readable context (a path, an address, a diagnosis).
    public let detail: String

    /// Creates an error.
    public init(_ code: Code, operation: String, errno: Errno? = nil, detail: String = "") {
        self.code = code
        self.operation = operation
        self.errno = errno
        self.detail = detail
    }

    /// A kernel error for `operation`.
    static func system(_ operation: String, _ errnoValue: Int32, detail: String = "") -> ReactorError {
        ReactorError(.system, operation: operation, errno: Errno(rawValue: errnoValue), detail: detail)
    }

    /// `reactor <code> in <operation>[ (<errno>, errno <number>)][: <detail>]`, for logs.
    public var description: String {
        var text = "reactor \(code) in \(operation)"
        if let errno { text += " (\(errno), errno \(errno.rawValue))" }
        if !detail.isEmpty { text += ": \(detail)" }
        return text
    }

    /// The diagnosis for an `io_uring_setup` failure with `errno`: the cause named, so a user knows
    /// where to look (public for tests and tooling).
    public static func ringSetupDiagnosis(errno value: Int32, entries: UInt32 = 256) -> ReactorError {
        let errno = Errno(rawValue: value)
        switch errno {
        case .notPermitted, .permissionDenied:
            return ReactorError(
                .ringUnavailable, operation: "io_uring_setup", errno: errno,
                detail: "io_uring is blocked for this process: check a seccomp profile (containers often "
                    + "forbid io_uring_setup) and the sysctl kernel.io_uring_disabled (must be 0, or 1 with "
                    + "this user in kernel.io_uring_group)")
        case .noFunction:
            return ReactorError(
                .ringUnavailable, operation: "io_uring_setup", errno: errno,
                detail: "the kernel has no io_uring (built without CONFIG_IO_URING, or older than 5.1); "
                    + "Tether needs Linux 6.1 or newer")
        case .invalidArgument:
            return ReactorError(
                .ringSetupFailed, operation: "io_uring_setup", errno: errno,
                detail: "the kernel rejected the ring flags (SINGLE_ISSUER|DEFER_TASKRUN need Linux 6.1) "
                    + "or \(entries) entries")
        case .noMemory:
            return ReactorError(
                .ringSetupFailed, operation: "io_uring_setup", errno: errno,
                detail: "not enough locked memory for \(entries) entries (check ulimit -l)")
        default:
            return ReactorError(.ringSetupFailed, operation: "io_uring_setup", errno: errno)
        }
    }
}

extension ReactorError {
    /// True when the kernel refused a connection (`ECONNREFUSED`), e.g. a closed TCP port.
    public var isConnectionRefused: Bool { errno == .connectionRefused }
    /// True when an address does not exist (`ENOENT`), e.g. a missing unix socket path.
    public var isNoSuchFile: Bool { errno == .noSuchFileOrDirectory }
}
