import CLibUring

/// How a child process ended.
public enum ExitStatus: Sendable, Hashable, CustomStringConvertible {
    /// It called `exit(code)` (or returned from `main`).
    case exited(code: Int32)
    /// A signal ended it (`SIGKILL` is 9); `coreDumped` when it left a core file.
    case signaled(signal: Int32, coreDumped: Bool)

    init(siginfo: UnsafePointer<OperationScratch>) {
        let code = unsafe withUnsafePointer(to: siginfo.pointee.siginfo) { unsafe tether_siginfo_code($0) }
        let status = unsafe withUnsafePointer(to: siginfo.pointee.siginfo) { unsafe tether_siginfo_status($0) }
        switch code {
        case Int32(CLD_EXITED): self = .exited(code: status)
        case Int32(CLD_DUMPED): self = .signaled(signal: status, coreDumped: true)
        default: self = .signaled(signal: status, coreDumped: false)
        }
    }

    public var description: String {
        switch self {
        case .exited(let code): "exited with status \(code)"
        case .signaled(let signal, let core): "killed by signal \(signal)\(core ? " (core dumped)" : "")"
        }
    }
}
