extension Reactor {
    /// Runs `step` isolated to `actor` synchronously — `actor.assumeIsolated { step($0, argument) }`
    /// without its cost. `actor` must be pinned to this reactor (its `unownedExecutor` is
    /// ``unownedSerialExecutor``), and the caller must be where this reactor runs its jobs (the
    /// reactor thread; checked).
    ///
    /// Why: the standard `assumeIsolated` converts its closure with `withoutActuallyEscaping`,
    /// which here heap-allocated two closure contexts per call; a multiplexer session makes
    /// several such calls per frame. `step` must capture nothing (pass what it needs as
    /// `argument`), so that it has no context to allocate either.
    @inlinable
    package func runIsolated<Isolation: Actor, Argument, Result>(
        _ actor: Isolation, _ argument: Argument, _ step: @escaping (isolated Isolation, Argument) -> Result
    ) -> Result {
        precondition(isIsolatingCurrentContext(), "runIsolated off the reactor thread")
        // The same reinterpretation `assumeIsolated` makes: an isolated parameter is passed like
        // any other.
        let unisolated = unsafe unsafeBitCast(step, to: ((Isolation, Argument) -> Result).self)
        return unisolated(actor, argument)
    }
}
