import SwitchboardAdapterKit

/// Whether the admin token is fit for the addresses the edge listens on.
///
/// On loopback (127.0.0.0/8, `::1`, `localhost`) any token will do, as before. On any other address the admin API
/// faces the network, so the edge refuses to start when the token is empty, a sample from `conf/` (`change-me`) or
/// shorter than 24 characters: the lockout does not stop a patient guesser (see `AdminAuthorization`), the token's
/// length does. No token at all is fine anywhere: the admin API then refuses every request.
package enum AdminTokenPolicy {
    /// The shortest admin token served on a non-loopback address.
    package static let minimumLength = 24
    /// Tokens shipped as examples in `conf/`, which anyone can read.
    package static let samples: Set<String> = ["change-me"]

    /// The one-line reason to refuse to start, or nil when the token may be served on `config`'s addresses.
    package static func problem(_ config: SwitchboardConfig) -> String? {
        self.unfit(config).map { "refusing to start: \($0)" }
    }

    /// Why `config`'s token may not be served on its addresses (a SIGHUP reload is refused for it too), or nil.
    package static func unfit(_ config: SwitchboardConfig) -> String? {
        guard let token = config.admin.token else { return nil }
        var exposed: (key: String, address: String)?
        if !Self.isLoopback(config.server.host) {
            exposed = ("[server] host", config.server.host)
        } else if let index = config.listeners.firstIndex(where: { !Self.isLoopback($0.address) }) {
            exposed = ("listeners[\(index)].address", config.listeners[index].address)
        }
        guard let exposed else { return nil }
        let weakness: String
        if token.isEmpty {
            weakness = "is empty"
        } else if Self.samples.contains(token) {
            weakness = "is the sample \"\(token)\" from conf/"
        } else if token.count < Self.minimumLength {
            weakness = "is only \(token.count) characters long"
        } else {
            return nil
        }
        return "\(exposed.key) \"\(exposed.address)\" is not a loopback address and the admin token \(weakness); "
            + "set [admin] token (or SWITCHBOARD_ADMIN_TOKEN) to a random secret of at least \(Self.minimumLength) characters "
            + "(e.g. `openssl rand -hex 24`), or listen on 127.0.0.1 only"
    }

    /// Whether `host` is a loopback address: 127.0.0.0/8, `::1` (bracketed or not) or `localhost`.
    package static func isLoopback(_ host: String) -> Bool {
        if host.lowercased() == "localhost" { return true }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return IPAddress(bare)?.isLoopback ?? false
    }
}
