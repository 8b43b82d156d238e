/// Which app key signed each grant a connection holds: its own connection token or sign-in, and each channel's
/// token or auth signature.
///
/// A connection records the signer when it accepts a token or signature and asks `revoke` which grants to end when
/// the admin API revokes a key. A newer grant for the same scope (a refreshed token) replaces the older one, so a
/// client that moved to the new key before the old one was revoked keeps what it has.
///
/// ```swift
/// var grants = KeyGrants()
/// grants.record(.channel("private-a"), signer: claims.signer)
/// let ended = grants.revoke(revokedKey)  // [.channel("private-a")] when that key signed it
/// ```
public struct KeyGrants: Sendable {
    /// What a grant authorizes.
    public enum Scope: Sendable, Hashable {
        /// The connection itself (a JWT connection token, a Pusher sign-in).
        case connection
        /// One channel subscription.
        case channel(String)
    }

    private var signers: [Scope: KeyFingerprint] = [:]

    /// No grants.
    public init() {}

    /// Records that `signer` authorized `scope`, replacing an earlier grant; a nil signer (no token) forgets the scope.
    public mutating func record(_ scope: Scope, signer: KeyFingerprint?) {
        self.signers[scope] = signer
    }

    /// Forgets `scope` (its subscription ended).
    public mutating func forget(_ scope: Scope) {
        self.signers[scope] = nil
    }

    /// The key that signed `scope`, if one did.
    public func signer(of scope: Scope) -> KeyFingerprint? { self.signers[scope] }

    /// Removes and returns the scopes `signer` authorized, the connection first, then channels by name.
    public mutating func revoke(_ signer: KeyFingerprint) -> [Scope] {
        let scopes = self.signers.filter { $0.value == signer }.map(\.key).sorted { Self.order($0) < Self.order($1) }
        for scope in scopes { self.signers[scope] = nil }
        return scopes
    }

    /// True when no grant is recorded.
    public var isEmpty: Bool { self.signers.isEmpty }

    static func order(_ scope: Scope) -> String {
        switch scope {
        case .connection: ""
        case .channel(let name): "#" + name
        }
    }
}
