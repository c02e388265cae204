import Crypto
import Tether
import TetherReactor

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// An Ed25519 signature of a plugin binary, and its file format (`PLUGIN.sig`, beside the binary):
/// one line of four fields separated by single spaces,
///
/// ```
/// tether-signature-v1 ed25519 <public key: base64 of its 32 raw bytes> <signature: base64 of 64 bytes>
/// ```
///
/// and a newline. The signature is Ed25519 (RFC 8032) over every byte of the binary; the key is
/// named so that a host with several trusted keys knows which one to check it with (a key not
/// among them is refused, whatever the signature).
public struct PluginSignature: Sendable, Equatable {
    public static let formatTag = "tether-signature-v1"
    public let publicKey: Curve25519.Signing.PublicKey
    public let signature: Data

    public init(publicKey: Curve25519.Signing.PublicKey, signature: Data) {
        self.publicKey = publicKey
        self.signature = signature
    }

    /// Signs `binary` with `key`.
    public static func sign(_ binary: [UInt8], with key: Curve25519.Signing.PrivateKey) throws -> PluginSignature {
        PluginSignature(publicKey: key.publicKey, signature: try key.signature(for: binary))
    }

    /// The file's line, with its newline.
    public var fileText: String {
        "\(Self.formatTag) ed25519 \(publicKey.rawRepresentation.base64EncodedString()) \(signature.base64EncodedString())\n"
    }

    /// Reads a signature file's text.
    ///
    /// - Throws: ``PluginError`` `verificationFailed` naming what is wrong (another format, a
    ///   key or signature that is not base64 of the right length).
    public init(fileText: String) throws(PluginError) {
        var line = Substring(fileText)
        if line.last == "\n" { line = line.dropLast() }
        let fields = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 4, fields[0] == Self.formatTag, fields[1] == "ed25519" else {
            // The file is untrusted: its start is quoted with everything but printable ASCII
            // escaped (C0 and C1 controls, bidirectional overrides…), so it cannot rewrite a
            // terminal or forge log lines.
            let quoted = String(fileText.prefix(80)).unicodeScalars.map { $0.escaped(asASCII: true) }.joined()
            throw PluginError(.verificationFailed, "not a \(Self.formatTag) ed25519 signature line: \"\(quoted)\"")
        }
        guard let keyBytes = Data(base64Encoded: fields[2]), keyBytes.count == 32,
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: keyBytes)
        else {
            throw PluginError(.verificationFailed, "the signature's public key is not 32 bytes of base64")
        }
        guard let signature = Data(base64Encoded: fields[3]), signature.count == 64 else {
            throw PluginError(.verificationFailed, "the signature is not 64 bytes of base64")
        }
        self.init(publicKey: key, signature: signature)
    }

    public static func == (lhs: PluginSignature, rhs: PluginSignature) -> Bool {
        lhs.publicKey.rawRepresentation == rhs.publicKey.rawRepresentation && lhs.signature == rhs.signature
    }
}

/// Accepts a binary signed (``PluginSignature``) by one of `trustedKeys`; the signature is read
/// from the file `signaturePath(binaryPath)`, by default `PLUGIN.sig`.
public struct Ed25519SignatureVerifier: PluginBinaryVerifier {
    public let trustedKeys: [Curve25519.Signing.PublicKey]
    public let signaturePath: @Sendable (String) -> String

    public init(
        trustedKeys: [Curve25519.Signing.PublicKey],
        signaturePath: @escaping @Sendable (String) -> String = { $0 + ".sig" }
    ) {
        self.trustedKeys = trustedKeys
        self.signaturePath = signaturePath
    }

    /// The largest signature file read: a signature line is about 150 bytes.
    public static let maximumSignatureFileBytes = 4096

    public func verify(_ binary: [UInt8], path: String) throws(PluginError) {
        let file = signaturePath(path)
        let data: [UInt8]
        do {
            // One regular file of bounded size: a FIFO or a device in its place would block or
            // never end.
            switch try BlockingIO.readRegularFile(file, maximumBytes: Self.maximumSignatureFileBytes) {
            case .bytes(let contents): data = contents
            case .notRegularFile:
                throw PluginError(.verificationFailed, "\(path)'s signature file \(file) is not a regular file")
            case .tooLarge:
                throw PluginError(
                    .verificationFailed,
                    "\(path)'s signature file \(file) is larger than \(Self.maximumSignatureFileBytes) bytes")
            }
        } catch let error as PluginError {
            throw error
        } catch {
            throw PluginError(.verificationFailed, "\(path) has no signature file \(file) (\(error))")
        }
        let signature = try PluginSignature(fileText: String(decoding: data, as: UTF8.self))
        let key = signature.publicKey.rawRepresentation
        guard trustedKeys.contains(where: { $0.rawRepresentation == key }) else {
            throw PluginError(
                .verificationFailed,
                "\(path) is signed by a key this host does not trust (\(key.base64EncodedString()))")
        }
        guard signature.publicKey.isValidSignature(signature.signature, for: binary) else {
            throw PluginError(
                .verificationFailed, "\(path) does not match its signature by \(key.base64EncodedString())")
        }
    }
}

/// Accepts a binary whose SHA-256 digest is one of `digests` (go-plugin's `SecureConfig`, with
/// the check made on the bytes that run).
public struct SHA256DigestVerifier: PluginBinaryVerifier {
    public let digests: Set<[UInt8]>

    /// - Throws: ``PluginError`` `verificationFailed` when a digest is not 64 hex digits.
    public init(hex digests: [String]) throws(PluginError) {
        var parsed: Set<[UInt8]> = []
        for text in digests {
            guard text.count == 64, let bytes = Self.bytes(hex: text) else {
                throw PluginError(.verificationFailed, "\(text) is not a SHA-256 digest in hex (64 digits)")
            }
            parsed.insert(bytes)
        }
        self.digests = parsed
    }

    /// The digest of `binary`, in lowercase hex.
    public static func hexDigest(of binary: [UInt8]) -> String {
        SHA256.hash(data: binary).map { byte in
            let text = String(byte, radix: 16)
            return byte < 16 ? "0" + text : text
        }.joined()
    }

    public func verify(_ binary: [UInt8], path: String) throws(PluginError) {
        let digest = Array(SHA256.hash(data: binary))
        guard digests.contains(digest) else {
            throw PluginError(
                .verificationFailed,
                "\(path) has SHA-256 \(Self.hexDigest(of: binary)), not one of the \(digests.count) this host accepts")
        }
    }

    private static func bytes(hex: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        var high: UInt8?
        for character in hex {
            guard let value = character.hexDigitValue else { return nil }
            if let first = high {
                bytes.append(first << 4 | UInt8(value))
                high = nil
            } else {
                high = UInt8(value)
            }
        }
        return bytes
    }
}
