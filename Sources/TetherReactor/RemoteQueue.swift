import TetherCollections

/// Work handed to the reactor thread by other threads, under the reactor's lock.
///
/// Anything that touches the ring or loop state and starts on another thread goes through here:
/// task jobs, cancellation of in-flight operations, buffers released by readers on other threads,
/// and the shutdown request.
struct RemoteQueue: ~Copyable {
    @safe enum Item {
        case job(ReactorJob)
        case cancel(userData: UInt64)
        case recycle(bufferID: UInt16)
        case action(LoopAction)
        case callback(any ReactorCallback)
        case shutdown(UnsafeContinuation<Void, Never>)
    }

    var items = FIFO<Item>()
    /// Set once the loop thread has exited: jobs then run on the reactor's fallback queue.
    var loopExited = false
}

/// A closure to run on the reactor thread, sent from another thread.
///
/// It may capture loop-confined objects (the reason it is `@unchecked Sendable`): they are only
/// touched when the closure runs, which is on the reactor thread.
struct LoopAction: @unsafe @unchecked Sendable {
    let body: () -> Void
}
