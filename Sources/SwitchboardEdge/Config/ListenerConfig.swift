/// One `[[listeners]]` entry: a listener served in addition to `[server]`, on the same routes and bus.
///
/// Keys and defaults: `address = "127.0.0.1"`, `port` (required; 0 picks a free one), and optionally
/// `tls = { cert = "cert.pem", key = "key.pem" }` (PEM files). With `tls` the listener speaks TLS and
/// negotiates `h2` or `http/1.1` by ALPN (WebSocket upgrades on http/1.1); without it, plain HTTP/1.1 and WebSocket.
public struct ListenerConfig: Sendable, Equatable {
    /// PEM files of a TLS listener, re-read on SIGHUP.
    public struct TLSFiles: Sendable, Equatable {
        /// The certificate chain, leaf first.
        public var cert: String
        /// The private key of the leaf certificate.
        public var key: String

        public init(cert: String, key: String) {
            self.cert = cert
            self.key = key
        }
    }

    public var address = "127.0.0.1"
    public var port: Int
    public var tls: TLSFiles?

    public init(address: String = "127.0.0.1", port: Int, tls: TLSFiles? = nil) {
        self.address = address
        self.port = port
        self.tls = tls
    }
}

extension ConfigLoader {
    /// Reads one `[[listeners]]` table; errors name the key, e.g. `listeners[0].tls.cert: is required`.
    static func listener(_ table: Reader) throws(ConfigError) -> ListenerConfig {
        try table.onlyKeys(["address", "port", "tls"])
        guard let port = try table.int("port", in: 0...65535) else { throw ConfigError(key: table.key("port"), problem: "is required") }
        var listener = ListenerConfig(port: port)
        if let address = try table.string("address") {
            guard !address.isEmpty, !address.contains(where: { $0.isWhitespace }) else {
                throw ConfigError(key: table.key("address"), problem: "must be a host name or IP address")
            }
            listener.address = address
        }
        if let tls = try table.table("tls") {
            try tls.onlyKeys(["cert", "key"])
            func path(_ name: String) throws(ConfigError) -> String {
                guard let value = try tls.string(name), !value.isEmpty else {
                    throw ConfigError(key: tls.key(name), problem: "is required: the path of a PEM file")
                }
                return value
            }
            listener.tls = .init(cert: try path("cert"), key: try path("key"))
        }
        return listener
    }
}
