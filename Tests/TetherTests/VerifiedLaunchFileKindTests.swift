import Crypto
import Foundation
import Testing
import TetherReactor
import TetherSecurity
import TetherTesting

@testable import Tether

extension PluginLaunchTests {
    /// What a verified launch reads: one regular file of bounded size. A FIFO would block the
    /// read forever (the start's deadline cannot interrupt a blocking open), a huge file would
    /// be read into memory whole.
    @Suite(.timeLimit(.minutes(1)))
    struct VerifiedLaunchFileKindTests {
        /// A new empty directory; the test removes it.
        private func makeDirectory() throws -> String {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "tether-file-kind-\(UInt32.random(in: 0...UInt32.max))"
            ).path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
            return directory
        }

        private func verified(_ path: String) throws -> PluginClientConfiguration {
            var verified = configuration()
            verified.executable = path
            verified.verifier = try SHA256DigestVerifier(hex: [String(repeating: "0", count: 64)])
            return verified
        }

        /// `tether-sign keygen` creates the private key itself, owner-only from the start, and
        /// writes nothing when the path exists: not over a file, not through a symbolic link,
        /// even a dangling one (whose target it would otherwise create).
        @Test func keygenCreatesItsKeyFileOrNothing() async throws {
            let directory = try makeDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let key = directory + "/key"
            let made = try await ChildRun.run(TestExecutables.path("tether-sign"), ["keygen", key])
            #expect(made.status == 0, "\(made)")
            let mode = try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            let original = try String(contentsOfFile: key, encoding: .utf8)
            let again = try await ChildRun.run(TestExecutables.path("tether-sign"), ["keygen", key])
            #expect(again.status != 0 && again.stderr.contains("exists"), "\(again)")
            #expect(try String(contentsOfFile: key, encoding: .utf8) == original)

            let link = directory + "/link"
            let target = directory + "/target"
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
            let throughLink = try await ChildRun.run(TestExecutables.path("tether-sign"), ["keygen", link])
            #expect(throughLink.status != 0, "\(throughLink)")
            #expect(!FileManager.default.fileExists(atPath: target), "keygen wrote through a dangling link")
            #expect(
                (try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == target,
                "keygen replaced the link")
        }

        /// The signature file is untrusted input too: a FIFO in its place is refused without
        /// waiting for a writer, a large one unread, and its text is quoted with control
        /// characters escaped.
        @Test func aHostileSignatureFileIsRefusedSafely() async throws {
            let verifier = Ed25519SignatureVerifier(trustedKeys: [Curve25519.Signing.PrivateKey().publicKey])
            let binary: [UInt8] = [0x7F, 0x45, 0x4C, 0x46]
            func refusal(_ path: String) -> String? {
                do {
                    try verifier.verify(binary, path: path)
                    return nil
                } catch {
                    return error.code == .verificationFailed ? error.message : "code \(error.code)"
                }
            }
            let directory = try makeDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let fifo = directory + "/fifo"
            try await ChildRun.makeFIFO(fifo + ".sig")
            #expect(refusal(fifo)?.contains("is not a regular file") == true)

            let large = directory + "/large"
            try Data(repeating: 0x41, count: Ed25519SignatureVerifier.maximumSignatureFileBytes + 1).write(
                to: URL(fileURLWithPath: large + ".sig"))
            #expect(refusal(large)?.contains("is larger than") == true)

            let escape = directory + "/escape"
            try Data("\u{1B}[2J\nforged log line\r".utf8).write(to: URL(fileURLWithPath: escape + ".sig"))
            let message = try #require(refusal(escape))
            #expect(message.contains(#"\u{1B}[2J\nforged log line\r"#), "\(message)")
            #expect(!message.contains("\u{1B}") && !message.contains("\n") && !message.contains("\r"))
        }

        /// An executable FIFO nobody writes to: refused as not a regular file, at once.
        @Test func aFIFOIsRefusedWithoutWaitingForAWriter() async throws {
            let directory = try makeDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let fifo = directory + "/plugin"
            try await ChildRun.makeFIFO(fifo, mode: "755")
            try await withoutLeaks { reactor in
                let error = await expectStartFails(.notExecutable, try verified(fifo), on: reactor)
                #expect(error?.message.contains("not a regular file") == true, "\(String(describing: error))")
            }
        }

        /// A sparse file one byte over the limit that starts like an ELF binary: refused from its
        /// size, before a byte of it is read or handed to the verifier.
        @Test func aFileLargerThanTheLimitIsRefusedUnread() async throws {
            let directory = try makeDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let path = directory + "/plugin"
            try Data([0x7F, 0x45, 0x4C, 0x46]).write(to: URL(fileURLWithPath: path))
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            try handle.truncate(atOffset: UInt64(PluginClientConfiguration.maximumVerifiedBinaryBytes + 1))
            try handle.close()
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
            try await withoutLeaks { reactor in
                let error = await expectStartFails(.verificationFailed, try verified(path), on: reactor)
                #expect(
                    error?.message.contains(
                        "larger than the \(PluginClientConfiguration.maximumVerifiedBinaryBytes)")
                        == true, "\(String(describing: error))")
            }
        }
    }
}
