import ArgumentParser
import Foundation
import SwitchboardEdge

/// `switchboard dev-cert`: a self-signed certificate for trying HTTPS, WSS and HTTP/2 on this machine.
struct DevCert: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev-cert",
        abstract: "Write a self-signed certificate for localhost, 127.0.0.1 and ::1 (valid one year).",
        discussion: """
            Writes DIR/dev-cert.pem and DIR/dev-key.pem (mode 0600), replacing earlier ones, and prints the
            [[listeners]] entry that serves them. Run it again and send SIGHUP to a running server to rotate.
            Clients must trust the certificate: curl --cacert DIR/dev-cert.pem.
            """
    )

    @Option(help: "The directory to write dev-cert.pem and dev-key.pem into.")
    var out = "data"

    func run() throws {
        let certificate: DevCertificate
        let paths: (cert: URL, key: URL)
        do {
            certificate = try DevCertificate.make()
            paths = try certificate.write(to: URL(fileURLWithPath: self.out, isDirectory: true))
        } catch {
            FileHandle.standardError.write(Data("switchboard: dev-cert: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let lines = [
            "wrote \(paths.cert.path)",
            "wrote \(paths.key.path) (mode 0600)",
            "sha256 fingerprint \(try certificate.fingerprint())",
            "",
            "add to your config:",
            "",
            DevCertificate.listenerSnippet(cert: paths.cert.path, key: paths.key.path),
            "",
            "then: curl --http2 --cacert \(paths.cert.path) https://127.0.0.1:8443/api/health",
        ]
        print(lines.joined(separator: "\n"))
    }
}
