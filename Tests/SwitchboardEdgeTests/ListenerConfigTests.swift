import Testing

@testable import SwitchboardEdge

@Suite struct ListenerConfigTests {
    func problem(_ text: String) -> String? {
        do {
            _ = try ConfigLoader.parse(text)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func inlineAndDottedTLSTablesReadTheSame() throws {
        let config = try ConfigLoader.parse(
            """
            [[listeners]]
            port = 8443
            tls = { cert = "c.pem", key = "k.pem" }

            [[listeners]]
            address = "0.0.0.0"
            port = 8444
            tls.cert = "c2.pem"
            tls.key = "k2.pem"

            [[listeners]]
            port = 0
            """
        )
        #expect(
            config.listeners == [
                ListenerConfig(address: "127.0.0.1", port: 8443, tls: .init(cert: "c.pem", key: "k.pem")),
                ListenerConfig(address: "0.0.0.0", port: 8444, tls: .init(cert: "c2.pem", key: "k2.pem")),
                ListenerConfig(address: "127.0.0.1", port: 0, tls: nil),
            ]
        )
    }

    @Test func noListenersByDefault() throws {
        #expect(try ConfigLoader.parse("[server]\nport = 1").listeners.isEmpty)
    }

    @Test(arguments: [
        ("[[listeners]]\naddress = \"::1\"", "listeners[0].port: is required"),
        ("[[listeners]]\nport = 70000", "listeners[0].port: must be between 0 and 65535"),
        ("[[listeners]]\nport = 1\nhost = \"x\"", "listeners[0].host: unknown key"),
        ("[[listeners]]\nport = 1\naddress = \"\"", "listeners[0].address: must be a host name or IP address"),
        ("[[listeners]]\nport = 1\ntls = { key = \"k.pem\" }", "listeners[0].tls.cert: is required: the path of a PEM file"),
        ("[[listeners]]\nport = 1\ntls = { cert = \"c.pem\" }", "listeners[0].tls.key: is required: the path of a PEM file"),
        ("[[listeners]]\nport = 1\ntls = { cert = \"c\", key = \"k\", ca = \"x\" }", "listeners[0].tls.ca: unknown key"),
        ("[[listeners]]\nport = 1\ntls = \"c.pem\"", "listeners[0].tls: must be a table"),
        ("[[listeners]]\nport = 1\n[[listeners]]\nport = 2\ntls.cert = 3\ntls.key = \"k\"", "listeners[1].tls.cert: must be a string"),
        ("[listeners]\nport = 1", "listeners: must be an array of tables ([[listeners]])"),
    ])
    func badListenerNamesTheKeyAndTheProblem(text: String, expected: String) {
        #expect(self.problem(text) == expected)
    }

    @Test func anUnreadableCertificateIsAConfigErrorNamingTheKey() {
        let listener = ListenerConfig(port: 0, tls: .init(cert: "/nonexistent/cert.pem", key: "/nonexistent/key.pem"))
        #expect(throws: ConfigError(key: "listeners[0].tls.cert", problem: "/nonexistent/cert.pem: cannot be read")) {
            try EdgeListener.load([listener])
        }
    }

    @Test func boundListenerPrintsURLAndProtocols() {
        #expect(
            BoundListener(secure: true, host: "127.0.0.1", port: 8443, protocols: ["h2", "http/1.1"]).description
                == "https://127.0.0.1:8443 (h2, http/1.1)"
        )
        #expect(BoundListener(secure: false, host: "::1", port: 80, protocols: ["http/1.1"]).url == "http://[::1]:80")
    }
}
