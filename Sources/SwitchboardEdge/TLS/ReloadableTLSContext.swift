import Crypto
import Foundation
public import Logging
import NIOCore
public import NIOSSL
import SwiftASN1
import Synchronization
import X509

/// The TLS context of one listener, swapped whole when its PEM files are re-read.
///
/// Each new connection takes the context current when it is accepted; connections already open keep theirs,
/// so a reload never drops anyone. A reload that fails (unreadable file, bad PEM, key not matching the
/// certificate) keeps the old context.
public final class ReloadableTLSContext: Sendable {
    /// What a listener advertises by ALPN, most preferred first.
    public static let applicationProtocols = ["h2", "http/1.1"]

    /// The certificate chain file.
    public let certPath: String
    /// The private key file.
    public let keyPath: String
    private let state: Mutex<Loaded>

    /// A context and the SHA-256 fingerprint (lowercase hex) of its leaf certificate.
    struct Loaded {
        var context: NIOSSLContext
        var fingerprint: String
    }

    /// Loads the files once; throws when they cannot serve TLS.
    public init(certPath: String, keyPath: String) throws(TLSFilesError) {
        self.certPath = certPath
        self.keyPath = keyPath
        self.state = Mutex(try Self.load(certPath: certPath, keyPath: keyPath))
    }

    /// The context new connections use.
    public var context: NIOSSLContext { self.state.withLock { $0.context } }

    /// The SHA-256 fingerprint of the leaf certificate being served.
    public var fingerprint: String { self.state.withLock { $0.fingerprint } }

    /// Re-reads the files; on success new connections get the new certificate, on failure the old one stays.
    @discardableResult
    public func reload(logger: Logger) -> Bool {
        do {
            let loaded = try Self.load(certPath: self.certPath, keyPath: self.keyPath)
            let previous = self.state.withLock { state in
                defer { state = loaded }
                return state.fingerprint
            }
            logger.notice(
                "TLS certificate reloaded",
                metadata: ["cert": "\(self.certPath)", "sha256": "\(loaded.fingerprint)", "previous": "\(previous)"]
            )
            return true
        } catch {
            logger.error(
                "TLS certificate reload failed; still serving the previous certificate",
                metadata: ["cert": "\(self.certPath)", "key": "\(self.keyPath)", "error": "\(error)"]
            )
            return false
        }
    }

    static func load(certPath: String, keyPath: String) throws(TLSFilesError) -> Loaded {
        let chainPEM = try Self.read(certPath, file: .cert)
        let keyPEM = try Self.read(keyPath, file: .key)
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(Array(chainPEM.utf8))
        } catch {
            throw TLSFilesError(file: .cert, path: certPath, problem: "not a PEM certificate (\(error))")
        }
        guard let leaf = chain.first else { throw TLSFilesError(file: .cert, path: certPath, problem: "holds no certificate") }
        let privateKey: NIOSSLPrivateKey
        do {
            privateKey = try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)
        } catch {
            throw TLSFilesError(file: .key, path: keyPath, problem: "not a PEM private key (\(error))")
        }
        // BoringSSL would only notice a mismatched pair at the first handshake; check it here so a reload can refuse it.
        do {
            let certificate = try Certificate(pemEncoded: chainPEM)
            let key = try Certificate.PrivateKey(pemEncoded: keyPEM)
            guard key.publicKey == certificate.publicKey else {
                throw TLSFilesError(file: .key, path: keyPath, problem: "does not match the certificate in \(certPath)")
            }
        } catch let error as TLSFilesError {
            throw error
        } catch {
            throw TLSFilesError(file: .key, path: keyPath, problem: "cannot be checked against the certificate (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(privateKey)
        )
        configuration.applicationProtocols = Self.applicationProtocols
        // A peer that never answers our close_notify (it stopped reading) should not hold the socket, or shutdown, for 5 s.
        configuration.shutdownTimeout = .seconds(1)
        do {
            let context = try NIOSSLContext(configuration: configuration)
            let der = try leaf.toDERBytes()
            let fingerprint = SHA256.hash(data: der).map { String(format: "%02x", $0) }.joined()
            return Loaded(context: context, fingerprint: fingerprint)
        } catch {
            throw TLSFilesError(file: .cert, path: certPath, problem: "cannot serve TLS (\(error))")
        }
    }

    static func read(_ path: String, file: TLSFilesError.File) throws(TLSFilesError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TLSFilesError(file: file, path: path, problem: "cannot be read")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw TLSFilesError(file: file, path: path, problem: "is not PEM text") }
        return text
    }
}

/// Why a listener's certificate or key cannot be used; `file` says which of the two.
public struct TLSFilesError: Error, CustomStringConvertible {
    /// The `tls` key the problem belongs to.
    public enum File: String, Sendable {
        case cert
        case key
    }

    public var file: File
    public var path: String
    public var problem: String

    public var description: String { "\(self.path): \(self.problem)" }
}
