import SwitchboardAdapterKit

extension HMACToken.Claims {
    /// When what the token grants ends: Centrifugo's `expire_at` when the token has one (0 or less: never), which lets
    /// a short-lived token open a longer connection or subscription; else the token's own `exp`.
    var grantExpiresAt: Int64? {
        guard let expireAt = self.payload.double("expire_at"), expireAt.isFinite else { return self.expiresAt }
        return expireAt > 0 ? Int64(expireAt.rounded(.down)) : nil
    }
}
