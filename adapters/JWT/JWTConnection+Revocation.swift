import SwitchboardAdapterKit
import SwitchboardCore
import Synchronization

extension JWTDisconnect {
    /// 3014: the connection token was signed with a key since revoked. The client drops its token, gets a fresh one
    /// (centrifuge-js and centrifuge-python call `getToken`), and reconnects; a client without one stays disconnected.
    public static let keyRevoked = JWTDisconnect(code: 3014, reason: "state invalidated")
}

/// Revoking a key ends what it signed on this connection.
///
/// A connection token signed with it ends the connection with 3014 (state invalidated: fetch a new token, reconnect);
/// a subscription token signed with it ends that subscription with an `unsubscribe` push, code 2502 (state
/// invalidated: the client drops the token and subscribes again with a fresh one from `getToken`). Subscriptions that
/// came with the connection token (its `channels` claim) end with the connection. Expiry is `tick`'s: 3005 for the
/// connection token and 3006 for a subscription token not refreshed in time.
extension JWTConnection {
    /// The unsubscribe push code for a subscription whose token was signed with a revoked key.
    static let revokedSubscriptionCode = 2502

    /// The app's secrets as they are now: a key revoked after this connection opened no longer verifies on it.
    var currentSecrets: [String] { self.bus.apps.app(id: self.app.id)?.secrets ?? [] }

    /// Records that `claims`' signer authorized `scope` (the connection, or one channel), replacing what was there.
    func remember(_ scope: KeyGrants.Scope, _ claims: HMACToken.Claims) {
        self.keyGrants.withLock { $0.record(scope, signer: claims.signer) }
    }

    /// Ends the connection or the subscriptions whose token the revoked key `signer` signed.
    func revoke(_ signer: KeyFingerprint) async {
        let scopes = self.keyGrants.withLock { $0.revoke(signer) }
        guard !scopes.isEmpty, self.disconnectReason == nil else { return }
        if scopes.contains(.connection) {
            self.environment.gate.report(.tokenInvalid, app: self.app.id, caller: self.caller, detail: "connection token signed with a revoked key")
            return self.disconnect(.keyRevoked)
        }
        let subscribed = self.channels
        var ended: [String] = []
        for case .channel(let channel) in scopes where subscribed.contains(channel) {
            await self.leave(channel)
            self.reply(
                JWTReply.push(channel: channel, "unsubscribe") { json in
                    json.member("code", Self.revokedSubscriptionCode)
                    json.member("reason", "token revoked")
                }
            )
            ended.append(channel)
        }
        guard !ended.isEmpty else { return }
        let named = ended.prefix(5).joined(separator: ", ") + (ended.count > 5 ? " and \(ended.count - 5) more" : "")
        self.environment.gate.report(
            .tokenInvalid,
            app: self.app.id,
            caller: self.caller,
            detail: "\(named): subscription token signed with a revoked key"
        )
    }
}
