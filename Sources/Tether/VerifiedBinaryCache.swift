import Synchronization
import TetherReactor

/// A host's verified plugin binaries: each file is read, checked by ``verifier`` and copied into
/// a sealed in-memory file once; starts of the same file run that sealed copy again, without
/// reading or checking it, as long as the file's identity (device, inode, size, modification and
/// change times: ``TetherReactor/FileIdentity``) is unchanged. A file replaced or changed in any
/// way has another identity and is read and checked again before it runs.
///
/// What runs is always bytes that passed the check: a cached copy cannot change (it is sealed),
/// and a changed file is not the cached one. Each entry holds a copy of its binary in memory;
/// at most ``maximumEntries`` files are kept, the least recently started dropped first. Share one
/// cache between the configurations of a host that use the same verifier.
public final class VerifiedBinaryCache: Sendable {
    public let verifier: any PluginBinaryVerifier
    public let maximumEntries: Int

    private struct Entry {
        var identity: FileIdentity
        var sealed: SealedExecutable
        var lastUse: UInt64
    }
    private struct State {
        var entries: [String: Entry] = [:]
        var uses: UInt64 = 0
    }
    private let state = Mutex(State())

    /// - Precondition: `maximumEntries` is positive.
    public init(verifier: any PluginBinaryVerifier, maximumEntries: Int = 8) {
        precondition(maximumEntries > 0, "a cache holds at least one binary")
        self.verifier = verifier
        self.maximumEntries = maximumEntries
    }

    /// How many binaries the cache holds now.
    public var count: Int { state.withLock { $0.entries.count } }

    /// The sealed, verified copy of the file at `path`: the cached one while the file is
    /// unchanged, else a new one (read, verified and sealed now, then cached).
    ///
    /// - Throws: ``PluginError`` — `executableNotFound` when the file cannot be examined,
    ///   `verificationFailed` from the verifier, `launchFailed` when it cannot be read or sealed.
    func sealedCopy(of path: String) throws(PluginError) -> SealedExecutable {
        let identity: FileIdentity
        do {
            identity = try FileIdentity(of: path)
        } catch {
            throw PluginError(.executableNotFound, "\(path): \(error)")
        }
        let cached = state.withLock { state -> SealedExecutable? in
            guard let entry = state.entries[path], entry.identity == identity else { return nil }
            state.uses += 1
            state.entries[path]?.lastUse = state.uses
            return entry.sealed
        }
        if let cached { return cached }
        // The identity was taken before the read: if the file changed in between, the bytes
        // verified are the new ones, and the next start sees a new identity and checks again.
        let sealed = try PluginLaunch.sealedVerifiedCopy(of: path, verifier: verifier)
        state.withLock { state in
            state.uses += 1
            state.entries[path] = Entry(identity: identity, sealed: sealed, lastUse: state.uses)
            while state.entries.count > maximumEntries,
                let oldest = state.entries.min(by: { $0.value.lastUse < $1.value.lastUse })?.key
            {
                // A start still using it holds its own reference until its child has started
                // (`PluginLaunch.spawn` keeps it alive across the spawn).
                state.entries.removeValue(forKey: oldest)
            }
        }
        return sealed
    }
}
