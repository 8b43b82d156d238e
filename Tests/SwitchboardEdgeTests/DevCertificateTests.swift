import Crypto
import Foundation
import Logging
import SwiftASN1
import Testing
import X509

@testable import SwitchboardEdge

@Suite struct DevCertificateTests {
    func temporaryDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("devcert-\(UUID().uuidString)", isDirectory: true)
    }

    @Test func writtenFilesParseBackWithLocalNamesAndAMatchingKey() throws {
        let directory = self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))  // certificates keep whole seconds
        let paths = try DevCertificate.make(now: now).write(to: directory)

        let certificate = try Certificate(pemEncoded: String(decoding: try Data(contentsOf: paths.cert), as: UTF8.self))
        let key = try P256.Signing.PrivateKey(pemRepresentation: String(decoding: try Data(contentsOf: paths.key), as: UTF8.self))
        #expect(certificate.publicKey == Certificate.PublicKey(key.publicKey))
        #expect(certificate.issuer == certificate.subject)

        let names = try #require(try certificate.extensions.subjectAlternativeNames)
        #expect(names.contains(.dnsName("localhost")))
        #expect(names.contains(.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))))
        #expect(names.contains(.ipAddress(ASN1OctetString(contentBytes: (Array(repeating: 0, count: 15) + [1])[...]))))
        #expect(try certificate.extensions.basicConstraints == .notCertificateAuthority)

        #expect(certificate.notValidAfter == now.addingTimeInterval(365 * 86_400))
        #expect(certificate.notValidBefore == now.addingTimeInterval(-60))

        let mode = try FileManager.default.attributesOfItem(atPath: paths.key.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func eachRunMakesANewSerialAndFingerprint() throws {
        let first = try DevCertificate.make()
        let second = try DevCertificate.make()
        #expect(first.certificate.serialNumber != second.certificate.serialNumber)
        #expect(try first.fingerprint() != second.fingerprint())
    }

    @Test func theServerLoadsTheFilesAndReloadsOnlyAGoodPair() throws {
        let directory = self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try DevCertificate.make()
        let paths = try first.write(to: directory)
        let context = try ReloadableTLSContext(certPath: paths.cert.path, keyPath: paths.key.path)
        #expect(context.fingerprint == (try first.fingerprint()))

        let second = try DevCertificate.make()
        try second.write(to: directory)
        #expect(context.reload(logger: Logger(label: "test")))
        #expect(context.fingerprint == (try second.fingerprint()))

        // A key that does not belong to the certificate is refused; the previous pair stays.
        try DevCertificate.replace(paths.key, with: Data(try DevCertificate.make().privateKeyPEM.utf8), permissions: 0o600)
        #expect(!context.reload(logger: Logger(label: "test")))
        #expect(context.fingerprint == (try second.fingerprint()))

        try DevCertificate.replace(paths.cert, with: Data("not a certificate\n".utf8), permissions: 0o644)
        #expect(!context.reload(logger: Logger(label: "test")))
        #expect(context.fingerprint == (try second.fingerprint()))
    }
}
