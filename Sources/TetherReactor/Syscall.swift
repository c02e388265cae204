import Glibc

/// The choke point for the few synchronous system calls (socket setup, spawn helpers).
///
/// `EINTR` is retried; `EBADF`/`EFAULT` are bugs and trap; anything else is a ``ReactorError``
/// naming `operation`. Not inlined so nothing runs between the call and the read of `errno`.
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
