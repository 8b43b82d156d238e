public import Crypto
public import Foundation
import SwiftASN1
public import X509

/// A self-signed certificate for trying HTTPS, WSS and HTTP/2 locally (`switchboard dev-cert`).
///
/// Valid for `localhost`, `127.0.0.1` and `::1` for one year, with a fresh P-256 key and a random serial,
/// so each run yields a new certificate (and fingerprint). Not for production: nothing but the file says who made it.
///
/// ```swift
/// let paths = try DevCertificate.make().write(to: URL(fileURLWithPath: "data"))
/// ```
public struct DevCertificate: Sendable {
    /// The file `write(to:)` puts the certificate in.
    public static let certFileName = "dev-cert.pem"
    /// The file `write(to:)` puts the private key in (mode 0600).
    public static let keyFileName = "dev-key.pem"
    /// The names the certificate is valid for.
    public static let dnsNames = ["localhost"]
    /// The addresses the certificate is valid for, as IP octets.
    public static let ipAddresses: [[UInt8]] = [[127, 0, 0, 1], Array(repeating: 0, count: 15) + [1]]

    /// The certificate.
    public let certificate: Certificate
    /// Its private key.
    public let privateKey: P256.Signing.PrivateKey

    /// Makes a new key and certificate valid from a minute before `now` for `days` days.
    public static func make(now: Date = Date(), days: Int = 365) throws -> DevCertificate {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            OrganizationName("Switchboard development")
            CommonName("localhost")
        }
        let publicKey = Certificate.PublicKey(key.publicKey)
        let names: [GeneralName] =
            Self.dnsNames.map { .dnsName($0) } + Self.ipAddresses.map { .ipAddress(ASN1OctetString(contentBytes: $0[...])) }
        let keyIdentifier = SubjectKeyIdentifier(hash: publicKey)
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            try ExtendedKeyUsage([.serverAuth])
            SubjectAlternativeNames(names)
            keyIdentifier
            AuthorityKeyIdentifier(keyIdentifier: keyIdentifier.keyIdentifier)
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-60),
            notValidAfter: now.addingTimeInterval(TimeInterval(days) * 86_400),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: Certificate.PrivateKey(key)
        )
        return DevCertificate(certificate: certificate, privateKey: key)
    }

    /// The certificate as PEM text.
    public func certificatePEM() throws -> String { try self.certificate.serializeAsPEM().pemString + "\n" }

    /// The SHA-256 fingerprint of the certificate's DER bytes, lowercase hex (what a TLS client sees).
    public func fingerprint() throws -> String {
        var serializer = DER.Serializer()
        try serializer.serialize(self.certificate)
        return SHA256.hash(data: serializer.serializedBytes).map { String(format: "%02x", $0) }.joined()
    }

    /// The private key as PKCS#8 PEM text.
    public var privateKeyPEM: String { self.privateKey.pemRepresentation + "\n" }

    /// Writes `dev-cert.pem` and `dev-key.pem` (0600) into `directory`, creating it; each file is replaced atomically,
    /// so a server reloading on SIGHUP never reads half a file.
    @discardableResult
    public func write(to directory: URL) throws -> (cert: URL, key: URL) {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let cert = directory.appendingPathComponent(Self.certFileName)
        let key = directory.appendingPathComponent(Self.keyFileName)
        try Self.replace(key, with: Data(self.privateKeyPEM.utf8), permissions: 0o600)
        try Self.replace(cert, with: Data(try self.certificatePEM().utf8), permissions: 0o644)
        return (cert, key)
    }

    /// The `[[listeners]]` entry serving these files.
    public static func listenerSnippet(cert: String, key: String, port: Int = 8443) -> String {
        """
        [[listeners]]
        address = "127.0.0.1"
        port = \(port)
        tls = { cert = "\(cert)", key = "\(key)" }
        """
    }

    /// Writes a temporary file created with `permissions` (never wider, not even briefly), then renames it over `url`.
    static func replace(_ url: URL, with data: Data, permissions: Int) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString)")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, mode_t(permissions))
        guard descriptor >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: temporary.path]) }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: false)
        do {
            defer { try? handle.close() }
            try handle.write(contentsOf: data)
            try handle.synchronize()
        } catch {
            unlink(temporary.path)
            throw error
        }
        guard rename(temporary.path, url.path) == 0 else {
            unlink(temporary.path)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
        }
    }
}
