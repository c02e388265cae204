import CLibUring
import Glibc

/// The choke point for the synchronous system calls that report failure in `errno` (socket
/// setup, spawn helpers, signals, descriptors): every one the reactor makes goes through here or
/// through one of the named wrappers below, under the name its errors carry. (`posix_spawn` and
/// `pthread_create` return their error number, and liburing its negative errno; their callers
/// read those.)
///
/// `EINTR` is retried; `EBADF`/`EFAULT` are bugs and trap; anything else is a ``ReactorError``
/// naming `operation`. A caller that has nothing to do about a failure (a best-effort socket
/// option, a signal to a process that may be gone) writes `_ = try? syscall(…)`: an `EBADF`
/// still traps. Not inlined so nothing runs between the call and the read of `errno`.
@inline(never)
func syscall<T: FixedWidthInteger>(_ operation: String, detail: @autoclosure () -> String = "", _ body: () -> T)
    throws(ReactorError) -> T
{
    while true {
        let result = body()
        if result >= 0 { return result }
        let code = errno
        switch code {
        case EINTR: continue
        case EBADF, EFAULT: preconditionFailure("\(operation): errno \(code) — invalid fd or pointer")
        default: throw ReactorError.system(operation, code, detail: detail())
        }
    }
}

/// `mmap` of `byteCount` bytes of private anonymous memory, read and write.
@inline(never)
func mapAnonymousMemory(_ operation: String, byteCount: Int) throws(ReactorError) -> UnsafeMutableRawPointer {
    let pointer = unsafe mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    guard let pointer = unsafe pointer, unsafe pointer != MAP_FAILED else {
        throw ReactorError.system(operation, errno, detail: "\(byteCount) bytes")
    }
    return unsafe pointer
}

/// `munmap` of memory from ``mapAnonymousMemory(_:byteCount:)``. It fails only for an address
/// or length that is not such a mapping, a bug.
func unmap(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
    let result = unsafe munmap(pointer, byteCount)
    precondition(result == 0, "munmap: errno \(errno) — not a mapping of \(byteCount) bytes")
}

/// Adds one to the counter of the eventfd `fd` (a cross-thread wake-up).
///
/// Not through ``syscall(_:detail:_:)`` and its `EBADF` trap, and its failure is not reported:
/// the write is a hint to a loop that may already have stopped reading. A poster that passed
/// `Reactor.post`'s exited check can reach this after `Reactor.shutdown()` closed the descriptor.
func addToEventCounter(_ fd: Int32) {
    var one: UInt64 = 1
    _ = unsafe Glibc.write(fd, &one, 8)
}

/// `close(2)` of a descriptor the caller owns, synchronously (outside the ring).
///
/// Never retried: Linux releases the descriptor even when `close` reports `EINTR`, and a second
/// call could close a descriptor another thread has just been given. `EBADF` traps like
/// everywhere else (a double close, which can close someone else's file); other errors (`EIO`
/// from a file system) leave nothing to do, the descriptor is gone.
@inline(never)
func closeDescriptor(_ fd: Int32) {
    guard Glibc.close(fd) != 0 else { return }
    let code = errno
    precondition(code != EBADF, "close: errno \(code) — fd \(fd) is not open")
}

/// The CPUs this process may run on (`sched_getaffinity`): fewer than the machine's when it is
/// pinned (`taskset`) or in a container with a CPU set. 0 when it cannot be read.
func allowedProcessorCount() -> Int { Int(tether_allowed_cpu_count()) }
