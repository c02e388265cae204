import CLibUring
import Glibc
import Synchronization

/// For tests only: makes a reactor's operations fail or fall short the way the kernel can, so
/// tests can check what the code above does with short sends and receives, `EINTR`, `EAGAIN`,
/// `ENOBUFS`, `ECONNRESET`, `EPIPE` or `EMFILE`.
///
/// Set it as ``ReactorConfiguration/faultInjector`` and give it ``Rule``s, at creation or while
/// the reactor runs (``Reactor/injectFault(_:)``). Without an injector (the default) the reactor
/// pays one nil test per submission and per completion.
///
/// Faults are what the kernel could have done, so the code under test sees nothing it would not
/// see in production:
/// - a **failure** replaces the operation's SQE with a no-op whose completion carries `-errno`:
///   the kernel did nothing (no byte sent, received or accepted, no descriptor made), and a
///   multishot receive or accept ends with that error as its last completion;
/// - a **short send** offers the kernel at most `maxBytes` of the iovecs: the kernel really takes
///   only that much and the sender must send the rest;
/// - a **short receive** delivers each received chunk in pieces of at most `maxBytes`, in order,
///   as a kernel that read less per call would have.
///
/// Deterministic: every rule counts the operations it matches, lets the first ``Rule/after`` of
/// them through, then applies to the next ``Rule/times`` (every one, if nil). Rules are consulted
/// in the order they were added; the first that applies wins (every matching rule still counts
/// the operation).
package final class FaultInjector: Sendable, Hashable {
    /// What an operation is, as rules select it.
    package enum OperationKind: Sendable, Hashable {
        /// `sendmsg` (sockets) and `writev` (pipes); one operation per call.
        case send
        /// Receives on sockets and pipes. For a failure, one operation is one arming of the receive
        /// (a multishot recv, a read, a receive into own memory); for a short receive, one received
        /// chunk.
        case receive
        /// One arming of a listener's multishot accept.
        case accept
        /// An outgoing `connect`.
        case connect
        /// The `socket(2)` call of ``StreamSocket/connect(to:on:)`` and ``Listener/listen(on:backlog:reactor:)``.
        case socket
    }

    /// What happens to an operation a rule applies to.
    package enum Fault: Sendable, Hashable {
        /// The operation fails with `errno` without reaching the kernel.
        case fail(errno: Int32)
        /// A send offers the kernel at most `maxBytes`; a received chunk is delivered in pieces of
        /// at most `maxBytes`. Other kinds ignore it.
        case short(maxBytes: Int)
    }

    /// Which operations get which fault.
    package struct Rule: Sendable, Hashable {
        package var kind: OperationKind
        /// Only operations on this descriptor; nil: on every descriptor.
        package var fileDescriptor: Int32?
        /// Matching operations let through before the fault applies.
        package var after: Int
        /// Matching operations the fault applies to, from the first after ``after``; nil: all.
        package var times: Int?
        package var fault: Fault

        package init(_ kind: OperationKind, fileDescriptor: Int32? = nil, after: Int = 0, times: Int? = 1, fault: Fault)
        {
            self.kind = kind
            self.fileDescriptor = fileDescriptor
            self.after = after
            self.times = times
            self.fault = fault
        }
    }

    private struct Entry {
        var rule: Rule
        var seen = 0
        var applied = 0
    }

    private let state = Mutex<(entries: [Entry], injected: Int)>(([], 0))

    package init(_ rules: [Rule] = []) {
        state.withLock { $0.entries = rules.map { Entry(rule: $0) } }
    }

    /// Adds a rule after the existing ones. An armed multishot receive or accept meets it only
    /// when armed again: ``Reactor/injectFault(_:)`` also interrupts those.
    package func add(_ rule: Rule) {
        state.withLock { $0.entries.append(Entry(rule: rule)) }
    }

    /// Drops every rule: operations from now on meet no fault (one already prepared keeps its).
    package func removeAllRules() {
        state.withLock { $0.entries.removeAll() }
    }

    /// How many times a fault was applied so far.
    package var injectedCount: Int { state.withLock { $0.injected } }

    /// The fault for the next operation of `kind` on `fd`, if a rule applies, of those `usable`
    /// accepts; counts the operation for every matching rule.
    func fault(for kind: OperationKind, fd: Int32, usable: (Fault) -> Bool) -> Fault? {
        state.withLock { state in
            var chosen: Fault?
            for index in state.entries.indices {
                let rule = state.entries[index].rule
                guard rule.kind == kind, rule.fileDescriptor == nil || rule.fileDescriptor == fd, usable(rule.fault)
                else { continue }
                state.entries[index].seen += 1
                guard chosen == nil, state.entries[index].seen > rule.after,
                    rule.times.map({ state.entries[index].applied < $0 }) ?? true
                else { continue }
                state.entries[index].applied += 1
                state.injected += 1
                chosen = rule.fault
            }
            return chosen
        }
    }

    /// Throws the failure a rule injects into the next synchronous call of `kind` (`socket`).
    func checkCall(_ kind: OperationKind, operation: String) throws(ReactorError) {
        if case .fail(let errno) = fault(for: kind, fd: -1, usable: { _ in true }) {
            throw ReactorError.system(operation, errno, detail: "injected")
        }
    }

    package static func == (lhs: FaultInjector, rhs: FaultInjector) -> Bool { lhs === rhs }
    package func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}

extension Operation {
    /// The kind and descriptor fault rules select this operation by; nil for kinds they never touch.
    var faultTarget: (kind: FaultInjector.OperationKind, fd: Int32)? {
        switch self {
        case .sendMessage(let fd, _), .writeVector(let fd, _): (.send, fd)
        case .receiveMultishot(let fd, _), .readSelected(let fd, _, _), .receiveInto(let fd, _, _): (.receive, fd)
        case .acceptMultishot(let fd): (.accept, fd)
        case .connect(let fd): (.connect, fd)
        default: nil
        }
    }
}

extension EventLoop {
    /// Prepares the SQE of slot `index` as `injector` decides: a failure becomes a no-op whose
    /// completion ``dispatch`` replaces with `-errno`; a short send offers fewer bytes. False when
    /// no rule applies (the caller prepares the operation as it is).
    func prepareWithFaults(
        _ injector: FaultInjector, _ sqe: UnsafeMutablePointer<io_uring_sqe>, index: Int
    ) -> Bool {
        let operation = table[index].operation
        guard let target = operation.faultTarget else { return false }
        let fault = injector.fault(for: target.kind, fd: target.fd) { fault in
            if case .short = fault { return target.kind == .send }
            return true
        }
        switch fault {
        case nil:
            return false
        case .fail(let errno):
            unsafe io_uring_prep_nop(sqe)
            table[index].injectedResult = -errno
            return true
        case .short(let maxBytes):
            let iovecs = unsafe table.iovecs(at: index)
            let shortened: Operation
            switch operation {
            case .sendMessage(let fd, let count):
                shortened = .sendMessage(fd: fd, iovecCount: unsafe Self.truncate(iovecs, count: count, to: maxBytes))
            case .writeVector(let fd, let count):
                shortened = .writeVector(fd: fd, iovecCount: unsafe Self.truncate(iovecs, count: count, to: maxBytes))
            default:
                return false
            }
            unsafe shortened.prepare(sqe, scratch: table.scratch(at: index), iovecs: iovecs)
            return true
        }
    }

    /// Shortens the first `count` iovecs to at most `maxBytes` in all (at least one byte); returns
    /// how many remain.
    private static func truncate(_ iovecs: UnsafeMutablePointer<iovec>, count: Int, to maxBytes: Int) -> Int {
        var left = max(1, maxBytes)
        for index in 0..<count {
            let length = unsafe iovecs[index].iov_len
            if length >= left {
                unsafe iovecs[index].iov_len = left
                return index + 1
            }
            left -= length
        }
        return count
    }

    /// The piece size a short-receive rule imposes on the chunk that `completion` delivered on
    /// `operation`'s descriptor, or 0.
    func receivePieceBytes(_ injector: FaultInjector, _ operation: Operation) -> Int {
        guard let target = operation.faultTarget, target.kind == .receive else { return 0 }
        let fault = injector.fault(for: .receive, fd: target.fd) { fault in
            if case .short = fault { return true }
            return false
        }
        if case .short(let maxBytes) = fault { return max(1, maxBytes) }
        return 0
    }

    /// Cancels the armed operations `rule` matches (multishot receives and accepts, a pipe's
    /// read), so that arming them again meets the rule. Their queues see a cancellation, which
    /// they answer by arming again when someone wants data or connections.
    func interruptArmed(for rule: FaultInjector.Rule) {
        guard case .fail = rule.fault, rule.kind == .receive || rule.kind == .accept else { return }
        for index in table.inFlightIndices() {
            guard let target = table[index].operation.faultTarget, target.kind == rule.kind,
                rule.fileDescriptor == nil || rule.fileDescriptor == target.fd
            else { continue }
            cancel(table.userData(at: index))
        }
    }
}

extension Reactor {
    /// For tests only: adds `rule` to this reactor's ``ReactorConfiguration/faultInjector`` (which
    /// must be set) and, for a failure of receives or accepts, cancels the matching armed ones so
    /// that they meet the rule when armed again: a failure "now", in the middle of a stream.
    package func injectFault(_ rule: FaultInjector.Rule) async throws {
        guard let injector = configuration.faultInjector else {
            preconditionFailure("injectFault on a reactor started without a fault injector")
        }
        try await withLoop { loop in
            injector.add(rule)
            loop.interruptArmed(for: rule)
        }
    }
}
