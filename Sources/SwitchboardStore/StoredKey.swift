/// One of an app's secrets as the admin API shows it: never the secret itself, only its preview.
public struct StoredKey: Sendable, Equatable {
    /// `key_` followed by random hex.
    public var id: String
    public var appID: String
    /// `sk_live_••••` plus the secret's last four characters.
    public var preview: String
    /// Milliseconds since the Unix epoch.
    public var createdAt: Int64
    /// When the key stopped verifying; nil while it is active.
    public var revokedAt: Int64?

    /// Creates a key record.
    public init(id: String, appID: String, preview: String, createdAt: Int64, revokedAt: Int64? = nil) {
        self.id = id
        self.appID = appID
        self.preview = preview
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }

    /// Whether the key still verifies.
    public var isActive: Bool { self.revokedAt == nil }

    /// What the admin API shows of `secret`: `sk_live_••••` and its last four characters.
    public static func preview(of secret: String) -> String {
        "sk_live_••••" + String(secret.suffix(4))
    }
}
