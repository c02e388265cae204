/// An object the reactor calls back on its thread, between jobs (see ``Reactor/callSoon(_:)``).
///
/// For deferred bookkeeping that must not run inside the code that triggers it — a handle's
/// `deinit`, say — and is too small to deserve a task: the callback is a plain call, no task is
/// created and nothing is allocated.
package protocol ReactorCallback: AnyObject, Sendable {
    /// Runs on the reactor thread, outside any job; actors pinned to the reactor may be entered
    /// with ``Reactor/runIsolated(_:_:_:)``.
    func reactorCallback()
}

extension Reactor {
    /// Calls `callback` on the reactor thread once the job running now finishes (when called on
    /// the reactor thread) or as soon as the loop wakes (from any other thread). After shutdown
    /// it runs on the queue that stands in for the thread, one at a time with the jobs there.
    package func callSoon(_ callback: some ReactorCallback) {
        if isCurrentThread, let loop = loop, !loop.exited {
            loop.callbacks.append(callback)
            return
        }
        if !post(.callback(callback)) { fallbackQueue.async { callback.reactorCallback() } }
    }
}
