import CLibUring

/// One kernel operation. Mapped to an SQE in exactly one place (``Operation/prepare(_:scratch:iovecs:)``);
/// its completion is mapped to a typed result by the one decoder of its kind
/// (`CompletionDecoding.swift`, e.g. ``Completion/decodeReceive(_:_:)``).
///
/// Pointers in cases point into memory the *operation* owns until its completion: the slot's
/// scratch (addresses, timespecs, iovecs, siginfo), a provided buffer, or a ``ByteStorage`` that the
/// awaiting task keeps alive because it does not return before the completion does.
enum Operation {
    /// Multishot recv into the provided-buffer ring `group`; one CQE per received chunk.
    case receiveMultishot(fd: Int32, group: UInt16)
    /// One read into a buffer picked from the provided-buffer ring (pipes, which have no multishot here).
    case readSelected(fd: Int32, group: UInt16, maxBytes: UInt32)
    /// One recv (sockets) or read (pipes) into `storage`, which the slot keeps alive until the
    /// completion: the fallback when the provided-buffer ring is empty.
    case receiveInto(fd: Int32, storage: ByteStorage, socket: Bool)
    /// Gather send of `iovecCount` iovecs already written to the slot's iovecs (sockets: sendmsg).
    case sendMessage(fd: Int32, iovecCount: Int)
    /// Gather write of `iovecCount` iovecs already written to the slot's iovecs (pipes: writev).
    case writeVector(fd: Int32, iovecCount: Int)
    /// Multishot accept; one CQE per accepted connection.
    case acceptMultishot(fd: Int32)
    /// Connect to the address already written to the slot's scratch.
    case connect(fd: Int32)
    /// Close a file descriptor.
    case close(fd: Int32)
    /// Relative timeout; completes with `-ETIME` when it fires.
    case timeout(nanoseconds: UInt64)
    /// One-shot poll for `events`; completes with the returned events.
    case poll(fd: Int32, events: UInt32)
    /// Wait for the exit of the process behind `pidfd` (reaps it); siginfo lands in the scratch.
    case waitForExit(pidfd: Int32)
    /// Read the 8-byte counter of the reactor's wake-up eventfd into the scratch.
    case readEventCounter(fd: Int32)
    /// Cancel the operation whose user data is `target` (or every operation, if `all`).
    case cancel(target: UInt64, all: Bool)
    /// Cancel every operation in flight on file descriptor `fd`.
    case cancelFileDescriptor(fd: Int32)

    /// The name used in errors.
    var name: String {
        switch self {
        case .receiveMultishot: "recv"
        case .readSelected: "read"
        case .receiveInto(_, _, let socket): socket ? "recv" : "read"
        case .sendMessage: "sendmsg"
        case .writeVector: "writev"
        case .acceptMultishot: "accept"
        case .connect: "connect"
        case .close: "close"
        case .timeout: "timeout"
        case .poll: "poll"
        case .waitForExit: "waitid"
        case .readEventCounter: "eventfd read"
        case .cancel, .cancelFileDescriptor: "cancel"
        }
    }

    /// The poll that tells when this operation can make progress, for one that reads or writes a
    /// descriptor: `POLLIN` on its fd for a receive, `POLLOUT` for a send; nil for the others.
    ///
    /// A descriptor with `O_NONBLOCK` (adopted from code that set it) may make the kernel complete
    /// such an operation with `EAGAIN` instead of waiting for data or room. Submitting it again at
    /// once would turn the loop without end; waiting for this poll first does not.
    var readinessPoll: Operation? {
        switch self {
        case .receiveMultishot(let fd, _), .readSelected(let fd, _, _), .receiveInto(let fd, _, _):
            .pollReadable(fd)
        case .sendMessage(let fd, _), .writeVector(let fd, _):
            .pollWritable(fd)
        default:
            nil
        }
    }

    /// A one-shot poll that completes once `fd` has input (or an error or hang-up).
    static func pollReadable(_ fd: Int32) -> Operation { .poll(fd: fd, events: UInt32(POLLIN)) }

    /// A one-shot poll that completes once `fd` has room for output (or an error or hang-up).
    static func pollWritable(_ fd: Int32) -> Operation { .poll(fd: fd, events: UInt32(POLLOUT)) }

    /// Fills `sqe` for this operation.
    func prepare(
        _ sqe: UnsafeMutablePointer<io_uring_sqe>, scratch: UnsafeMutablePointer<OperationScratch>,
        iovecs: UnsafeMutablePointer<iovec>
    ) {
        switch self {
        case .receiveMultishot(let fd, let group):
            unsafe io_uring_prep_recv_multishot(sqe, fd, nil, 0, 0)
            unsafe sqe.pointee.flags |= TETHER_IOSQE_BUFFER_SELECT
            unsafe sqe.pointee.buf_group = group
        case .readSelected(let fd, let group, let maxBytes):
            // Offset -1: the file position (pipes have none; for files this reads sequentially).
            unsafe io_uring_prep_read(sqe, fd, nil, maxBytes, UInt64.max)
            unsafe sqe.pointee.flags |= TETHER_IOSQE_BUFFER_SELECT
            unsafe sqe.pointee.buf_group = group
        case .receiveInto(let fd, let storage, let socket):
            if socket {
                unsafe io_uring_prep_recv(sqe, fd, storage.base, storage.capacity, 0)
            } else {
                unsafe io_uring_prep_read(sqe, fd, storage.base, UInt32(storage.capacity), UInt64.max)
            }
        case .sendMessage(let fd, let count):
            unsafe scratch.pointee.message = msghdr()
            unsafe scratch.pointee.message.msg_iov = iovecs
            unsafe scratch.pointee.message.msg_iovlen = count
            // MSG_NOSIGNAL: a closed peer is an EPIPE result, never a process-killing SIGPIPE.
            unsafe io_uring_prep_sendmsg(sqe, fd, &scratch.pointee.message, UInt32(MSG_NOSIGNAL))
        case .writeVector(let fd, let count):
            unsafe io_uring_prep_writev(sqe, fd, iovecs, UInt32(count), UInt64.max)
        case .acceptMultishot(let fd):
            unsafe io_uring_prep_multishot_accept(sqe, fd, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
        case .connect(let fd):
            unsafe withUnsafeMutablePointer(to: &scratch.pointee.address) { storage in
                unsafe storage.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                    unsafe io_uring_prep_connect(sqe, fd, address, scratch.pointee.addressLength)
                }
            }
        case .close(let fd):
            unsafe io_uring_prep_close(sqe, fd)
        case .timeout(let nanoseconds):
            unsafe scratch.pointee.timespec.tv_sec = Int64(nanoseconds / 1_000_000_000)
            unsafe scratch.pointee.timespec.tv_nsec = Int64(nanoseconds % 1_000_000_000)
            unsafe io_uring_prep_timeout(sqe, &scratch.pointee.timespec, 0, 0)
        case .poll(let fd, let events):
            unsafe io_uring_prep_poll_add(sqe, fd, events)
        case .waitForExit(let pidfd):
            // liburing 2.3 has no io_uring_prep_waitid: the kernel reads idtype from len, the id
            // from fd, options from file_index and the siginfo pointer from addr2.
            unsafe scratch.pointee.siginfo = siginfo_t()
            unsafe io_uring_prep_rw(Int32(TETHER_IORING_OP_WAITID), sqe, pidfd, nil, UInt32(P_PIDFD.rawValue), 0)
            unsafe sqe.pointee.file_index = UInt32(WEXITED)
            unsafe tether_sqe_set_addr2(sqe, &scratch.pointee.siginfo)
        case .readEventCounter(let fd):
            unsafe io_uring_prep_read(sqe, fd, &scratch.pointee.eventCounter, 8, 0)
        case .cancel(let target, let all):
            var flags: Int32 = 0
            if all { flags = Int32(IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_ANY) }
            unsafe io_uring_prep_cancel64(sqe, target, flags)
        case .cancelFileDescriptor(let fd):
            unsafe io_uring_prep_cancel_fd(sqe, fd, UInt32(IORING_ASYNC_CANCEL_ALL))
        }
    }
}

/// Per-slot memory that must outlive submission: the kernel reads or writes it asynchronously.
@safe struct OperationScratch {
    var message = unsafe msghdr()
    var address = sockaddr_storage()
    var addressLength: socklen_t = 0
    var timespec = __kernel_timespec()
    var siginfo = unsafe siginfo_t()
    var eventCounter: UInt64 = 0
}

/// A completion as the awaiting code sees it: the CQE's result and flags, plus what the reactor
/// copied out of the slot's scratch before reusing it (the exit status for `waitid`).
struct Completion: Sendable {
    var result: Int32
    var flags: UInt32
    var exit: ExitStatus?
    /// A fault injector's short receive: the chunk is delivered in pieces of at most this many
    /// bytes; 0 delivers it whole.
    var pieceBytes = 0

    /// A completion for an operation that never reached the kernel.
    static func failed(_ errnoValue: Int32) -> Completion { Completion(result: -errnoValue, flags: 0) }

    var hasMore: Bool { flags & IORING_CQE_F_MORE != 0 }
    var bufferID: UInt16? {
        flags & IORING_CQE_F_BUFFER != 0 ? UInt16(truncatingIfNeeded: flags >> IORING_CQE_BUFFER_SHIFT) : nil
    }
}
