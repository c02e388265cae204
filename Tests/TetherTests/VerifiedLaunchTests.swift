import Crypto
import Foundation
import RPCFixtures
import Synchronization
import Testing
import TetherReactor
import TetherSecurity
import TetherTesting

@testable import Tether

extension PluginLaunchTests {
    /// Verified launch: the host reads the binary once, checks those bytes, and runs a sealed
    /// in-memory copy of them; a binary that fails its check never runs. Each test works on its
    /// own copy of the test plugin.
    @Suite(.timeLimit(.minutes(2)))
    struct VerifiedLaunchTests {
        /// A copy of the test plugin in a directory of its own; removed after `body`.
        private func withPluginCopy(_ body: (String) async throws -> Void) async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "tether-verified-\(UInt32.random(in: 0...UInt32.max))")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
            defer { try? FileManager.default.removeItem(at: directory) }
            let copy = directory.appendingPathComponent("plugin").path
            try FileManager.default.copyItem(atPath: pluginPath, toPath: copy)
            try await body(copy)
        }

        private func digest(of path: String) throws -> String {
            SHA256DigestVerifier.hexDigest(of: [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
        }

        /// One byte more (the ELF still runs) and the digest no longer matches: refused before
        /// anything ran.
        @Test func aTamperedBinaryIsRefusedBeforeAnythingRuns() async throws {
            try await withPluginCopy { copy in
                let expected = try digest(of: copy)
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: copy))
                try handle.seekToEnd()
                try handle.write(contentsOf: Data([0]))
                try handle.close()
                try await withoutLeaks { reactor in
                    var tampered = configuration()
                    tampered.executable = copy
                    tampered.verifier = try SHA256DigestVerifier(hex: [expected])
                    let error = await expectStartFails(.verificationFailed, tampered, on: reactor)
                    #expect(error?.message.contains("has SHA-256 \(try digest(of: copy))") == true)
                    #expect(ProcessResources.childProcessIDs().isEmpty, "a refused binary ran")
                }
            }
        }

        /// The file is replaced on disk between the check and the exec (by the verifier itself,
        /// once it has passed the bytes): the verified program runs all the same, from its sealed
        /// copy (`/proc/PID/exe` is a memfd), and serves calls.
        @Test func theVerifiedBytesRunWhateverReplacesTheFile() async throws {
            try await withPluginCopy { copy in
                let verifier = SwappingVerifier(inner: try SHA256DigestVerifier(hex: [try digest(of: copy)]))
                try await withoutLeaks { reactor in
                    var verified = configuration()
                    verified.executable = copy
                    verified.verifier = verifier
                    try await withPlugin(verified, on: reactor) { plugin in
                        let kv = try plugin.dispense(KeyValueClient.self, name: "kv")
                        try await kv.put("k", value: Data("v".utf8))
                        #expect(try await kv.get("k") == Data("v".utf8))
                        let exe = try FileManager.default.destinationOfSymbolicLink(
                            atPath: "/proc/\(plugin.process.pid)/exe")
                        #expect(exe.hasPrefix("/memfd:plugin"), "\(exe)")
                    }
                }
                #expect(try String(contentsOfFile: copy, encoding: .utf8).contains("swapped"), "the hook ran")
            }
        }

        /// Ed25519: a binary signed by a trusted key runs; one signed by another key, one whose
        /// bytes changed after signing, and one without a signature file do not.
        @Test func onlyABinarySignedByATrustedKeyRuns() async throws {
            try await withPluginCopy { copy in
                let key = Curve25519.Signing.PrivateKey()
                let binary = [UInt8](try Data(contentsOf: URL(fileURLWithPath: copy)))
                try PluginSignature.sign(binary, with: key).fileText.write(
                    toFile: copy + ".sig", atomically: true, encoding: .utf8)
                try await withoutLeaks { reactor in
                    var signed = configuration()
                    signed.executable = copy
                    signed.verifier = Ed25519SignatureVerifier(trustedKeys: [key.publicKey])
                    try await withPlugin(signed, on: reactor) { plugin in
                        let value = try await plugin.dispense(KeyValueClient.self, name: "kv").get("x")
                        #expect(value == nil)
                    }

                    var untrusted = signed
                    untrusted.verifier = Ed25519SignatureVerifier(trustedKeys: [
                        Curve25519.Signing.PrivateKey().publicKey
                    ])
                    let notTrusted = await expectStartFails(.verificationFailed, untrusted, on: reactor)
                    #expect(notTrusted?.message.contains("a key this host does not trust") == true)

                    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: copy))
                    try handle.seekToEnd()
                    try handle.write(contentsOf: Data([0]))
                    try handle.close()
                    let changed = await expectStartFails(.verificationFailed, signed, on: reactor)
                    #expect(changed?.message.contains("does not match its signature") == true)

                    try FileManager.default.removeItem(atPath: copy + ".sig")
                    let unsigned = await expectStartFails(.verificationFailed, signed, on: reactor)
                    #expect(unsigned?.message.contains("has no signature file") == true)
                }
            }
        }

        /// A cache verifies a file once: the second start runs the sealed copy without checking
        /// again; a file changed since (another identity) is checked again, and refused when it
        /// no longer passes.
        @Test func aCacheChecksAFileOnceWhileItIsUnchanged() async throws {
            try await withPluginCopy { copy in
                let verifier = try SHA256DigestVerifier(hex: [try digest(of: copy)])
                // Made inside: the cache's sealed copy is a descriptor, closed with the cache.
                try await withoutLeaks { reactor in
                    let counting = CountingVerifier(inner: verifier)
                    let cache = VerifiedBinaryCache(verifier: counting, maximumEntries: 1)
                    var cached = configuration()
                    cached.executable = copy
                    cached.verifiedBinaries = cache
                    for _ in 0..<2 {
                        try await withPlugin(cached, on: reactor) { plugin in
                            let value = try await plugin.dispense(KeyValueClient.self, name: "kv").get("x")
                            #expect(value == nil)
                        }
                    }
                    #expect(counting.checks.withLock { $0 } == 1)
                    #expect(cache.count == 1)

                    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: copy))
                    try handle.seekToEnd()
                    try handle.write(contentsOf: Data([0]))
                    try handle.close()
                    _ = await expectStartFails(.verificationFailed, cached, on: reactor)
                    #expect(counting.checks.withLock { $0 } == 2)
                }
            }
        }

        /// A script passes no verifier, even one whose digest it matches: its interpreter would
        /// open the sealed copy by path after the exec, and is not checked itself.
        @Test func aScriptIsRefused() async throws {
            try await withPluginCopy { copy in
                try "#!/bin/sh\nexit 0\n".write(toFile: copy, atomically: true, encoding: .utf8)
                try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: copy)
                try await withoutLeaks { reactor in
                    var script = configuration()
                    script.executable = copy
                    script.verifier = try SHA256DigestVerifier(hex: [try digest(of: copy)])
                    let error = await expectStartFails(.verificationFailed, script, on: reactor)
                    #expect(error?.message.contains("is not an ELF executable") == true)
                }
            }
        }

        /// The signature file's line round-trips, and malformed lines are refused.
        @Test func theSignatureFileFormat() throws {
            let key = Curve25519.Signing.PrivateKey()
            let signature = try PluginSignature.sign([1, 2, 3], with: key)
            #expect(try PluginSignature(fileText: signature.fileText) == signature)
            #expect(signature.fileText.hasPrefix("tether-signature-v1 ed25519 "))
            for broken in ["", "tether-signature-v1 rsa a b\n", "tether-signature-v2 ed25519 a b\n", "x y z\n"] {
                #expect(throws: PluginError.self) { try PluginSignature(fileText: broken) }
            }
        }

        /// `tether-sign keygen`, `sign` and `verify`, as a user runs them: the signature it writes
        /// is the one the host's verifier accepts, and `verify` refuses a changed binary.
        @Test func tetherSignMakesSignaturesTheHostAccepts() async throws {
            try await withPluginCopy { copy in
                let key = URL(fileURLWithPath: copy).deletingLastPathComponent().appendingPathComponent("key").path
                let made = try await run(["keygen", key])
                #expect(made.status == 0)
                let signed = try await run(["sign", "--key", key, copy])
                #expect(signed.status == 0)
                let verified = try await run(["verify", "--trusted", key + ".pub", copy])
                #expect(verified.status == 0 && verified.stdout.contains("signed by a trusted key"), "\(verified)")
                let publicKey = try Curve25519.Signing.PublicKey(
                    rawRepresentation: Data(
                        base64Encoded: try String(contentsOfFile: key + ".pub", encoding: .utf8)
                            .trimmingCharacters(in: .whitespacesAndNewlines))!)
                let binary = [UInt8](try Data(contentsOf: URL(fileURLWithPath: copy)))
                try Ed25519SignatureVerifier(trustedKeys: [publicKey]).verify(binary, path: copy)

                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: copy))
                try handle.seekToEnd()
                try handle.write(contentsOf: Data([0]))
                try handle.close()
                let refused = try await run(["verify", "--trusted", key + ".pub", copy])
                #expect(refused.status == 1 && refused.stdout.contains("does not match its signature"), "\(refused)")
            }
        }

        private func run(_ arguments: [String]) async throws -> ChildRun.Result {
            try await ChildRun.run(TestExecutables.path("tether-sign"), arguments)
        }
    }
}

/// Counts the checks it passes on to `inner`.
private final class CountingVerifier: PluginBinaryVerifier {
    let inner: any PluginBinaryVerifier
    let checks = Mutex(0)

    init(inner: any PluginBinaryVerifier) {
        self.inner = inner
    }

    func verify(_ binary: [UInt8], path: String) throws(PluginError) {
        checks.withLock { $0 += 1 }
        try inner.verify(binary, path: path)
    }
}

/// Passes the bytes to `inner`, then replaces the file at the path with a script that exits 9:
/// a swap between the check and the exec.
private struct SwappingVerifier: PluginBinaryVerifier {
    let inner: any PluginBinaryVerifier

    func verify(_ binary: [UInt8], path: String) throws(PluginError) {
        try inner.verify(binary, path: path)
        try? FileManager.default.removeItem(atPath: path)
        _ = FileManager.default.createFile(
            atPath: path, contents: Data("#!/bin/sh\necho swapped\nexit 9\n".utf8),
            attributes: [.posixPermissions: 0o755])
    }
}
