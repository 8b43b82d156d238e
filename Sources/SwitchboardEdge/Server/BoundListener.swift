/// A listener that is accepting connections: where it is bound and what it speaks.
///
/// Its description is what `switchboard serve` prints: `https://127.0.0.1:8443 (h2, http/1.1)`.
public struct BoundListener: Sendable, CustomStringConvertible {
    /// Whether connections speak TLS.
    public var secure: Bool
    /// The configured address.
    public var host: String
    /// The bound port (the one the system picked when the configured port was 0).
    public var port: Int
    /// The application protocols served, most preferred first.
    public var protocols: [String]

    public init(secure: Bool, host: String, port: Int, protocols: [String]) {
        self.secure = secure
        self.host = host
        self.port = port
        self.protocols = protocols
    }

    /// `https://host:port` or `http://host:port`, with IPv6 addresses in brackets.
    public var url: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "\(self.secure ? "https" : "http")://\(host):\(self.port)"
    }

    public var description: String { "\(self.url) (\(self.protocols.joined(separator: ", ")))" }
}
