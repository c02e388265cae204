import ArgumentParser
import Crypto
import Foundation
import SystemPackage
import Tether
import TetherSecurity

/// `tether-sign`: makes Ed25519 keys, signs plugin binaries and checks signatures, in the
/// format ``PluginSignature`` documents (`PLUGIN.sig` beside the binary).
@main
struct TetherSign: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tether-sign",
        abstract: "Signs Tether plugin binaries with Ed25519 and checks their signatures.",
        subcommands: [Keygen.self, Sign.self, Verify.self])
}

/// The private key file: the base64 of the key's 32 raw bytes and a newline, mode 0600; the
/// public key beside it (`KEY.pub`), in the same form.
enum KeyFiles {
    static func readPrivate(_ path: String) throws -> Curve25519.Signing.PrivateKey {
        try Curve25519.Signing.PrivateKey(rawRepresentation: try decode(path))
    }

    static func readPublic(_ path: String) throws -> Curve25519.Signing.PublicKey {
        try Curve25519.Signing.PublicKey(rawRepresentation: try decode(path))
    }

    private static func decode(_ path: String) throws -> Data {
        let text = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let bytes = Data(base64Encoded: text), bytes.count == 32 else {
            throw ValidationError("\(path) is not a key: 32 bytes of base64 on one line")
        }
        return bytes
    }
}

struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Writes a new private key to KEY (mode 0600) and its public key to KEY.pub.")

    @Argument(help: "Where to write the private key.") var key: String

    func run() throws {
        let privateKey = Curve25519.Signing.PrivateKey()
        // Created by this open or not at all (O_EXCL: not over an existing file, nor through a
        // symbolic link, dangling or not), readable by its owner only from the start.
        let file: FileDescriptor
        do {
            file = try FileDescriptor.open(
                FilePath(key), .writeOnly, options: [.create, .exclusiveCreate, .closeOnExec],
                permissions: [.ownerReadWrite])
        } catch Errno.fileExists {
            throw ValidationError("\(key) exists: not overwriting a key")
        } catch {
            throw ValidationError("cannot create \(key): \(error)")
        }
        do {
            try file.closeAfter {
                _ = try file.writeAll(Array((privateKey.rawRepresentation.base64EncodedString() + "\n").utf8))
            }
        } catch {
            // A partial key is no key: removed, so that the next keygen can create the file.
            try? FileManager.default.removeItem(atPath: key)
            throw ValidationError("cannot write \(key): \(error)")
        }
        try (privateKey.publicKey.rawRepresentation.base64EncodedString() + "\n")
            .write(toFile: key + ".pub", atomically: true, encoding: .utf8)
        print("wrote \(key) and \(key).pub")
    }
}

struct Sign: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Signs PLUGIN with KEY: writes PLUGIN.sig.")

    @Option(help: "The private key file (from keygen).") var key: String
    @Argument(help: "The plugin binary.") var plugin: String

    func run() throws {
        let binary = try [UInt8](Data(contentsOf: URL(fileURLWithPath: plugin)))
        let signature = try PluginSignature.sign(binary, with: try KeyFiles.readPrivate(key))
        try signature.fileText.write(toFile: plugin + ".sig", atomically: true, encoding: .utf8)
        print("wrote \(plugin).sig")
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Checks PLUGIN.sig against PLUGIN and the trusted public keys; exits 1 when it does not hold.")

    @Option(name: .customLong("trusted"), help: "A trusted public key file (KEY.pub); repeat for several.")
    var trusted: [String]
    @Argument(help: "The plugin binary.") var plugin: String

    func run() throws {
        let verifier = Ed25519SignatureVerifier(trustedKeys: try trusted.map(KeyFiles.readPublic))
        let binary = try [UInt8](Data(contentsOf: URL(fileURLWithPath: plugin)))
        do {
            try verifier.verify(binary, path: plugin)
        } catch {
            print("\(plugin): \(error.message)")
            throw ExitCode(1)
        }
        print("\(plugin): signed by a trusted key")
    }
}
