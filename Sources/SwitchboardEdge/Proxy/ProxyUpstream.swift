import Foundation

/// An upstream (`[proxy] upstream` or an app's `upstream`) taken apart once: scheme, host, port and path prefix.
///
/// The URL of a proxied request is put together from these parts and a validated `ProxyTarget`, never by pasting
/// client text onto the configured string, and is checked to name the same scheme, host and port before it is used:
/// nothing a client sends can move the request to another host.
struct ProxyUpstream: Sendable, Equatable {
    /// `http` or `https`.
    let scheme: String
    /// The host name or address, IPv6 without brackets.
    let host: String
    /// The port, the scheme's default when the URL names none.
    let port: Int
    /// The path prefix without a trailing `/` (often empty), percent-encoded as configured.
    let pathPrefix: String

    /// Parses `http://host[:port][/prefix]`; nil for another scheme, user info, a query or a fragment.
    init?(_ text: String) {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            var host = components.host, !host.isEmpty, components.user == nil, components.password == nil, components.query == nil,
            components.fragment == nil
        else { return nil }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.scheme = scheme
        self.host = host
        self.port = components.port ?? (scheme == "https" ? 443 : 80)
        var prefix = components.percentEncodedPath
        while prefix.hasSuffix("/") { prefix.removeLast() }
        self.pathPrefix = prefix
    }

    /// The URL for `target` on this upstream; nil when it would not parse back to this scheme, host and port.
    func url(for target: ProxyTarget) -> String? {
        let authority = self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)"
        var url = "\(self.scheme)://\(authority)\(self.pathPrefix)\(target.path)"
        if let query = target.query { url += "?\(query)" }
        guard let parsed = URL(string: url), parsed.scheme == self.scheme, parsed.port == self.port,
            Self.unbracketed(parsed.host)?.lowercased() == self.host.lowercased()
        else { return nil }
        return url
    }

    private static func unbracketed(_ host: String?) -> String? {
        guard let host, host.hasPrefix("["), host.hasSuffix("]") else { return host }
        return String(host.dropFirst().dropLast())
    }
}
