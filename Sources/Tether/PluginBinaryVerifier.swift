/// Decides whether a plugin's binary may run, from its bytes: set one as
/// ``PluginClientConfiguration/verifier``.
///
/// The host reads the binary once and passes every byte here; what runs afterwards is a sealed
/// in-memory copy of exactly these bytes (see `SealedExecutable`), so a verifier never has to
/// worry about the file changing after its check. The TetherSecurity module has verifiers for a
/// SHA-256 digest and for Ed25519 signatures.
public protocol PluginBinaryVerifier: Sendable {
    /// Returns when `binary` (all of the file at `path`) may run.
    ///
    /// - Throws: ``PluginError`` with code ``PluginError/Code-swift.struct/verificationFailed``
    ///   and a message that says why (which digest or key, what was found).
    func verify(_ binary: [UInt8], path: String) throws(PluginError)
}
