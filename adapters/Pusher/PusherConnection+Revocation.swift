import SwitchboardAdapterKit
import SwitchboardCore
import Synchronization

/// Revoking a key ends what its signatures authorized on this connection (Pusher signatures do not expire).
///
/// A private, presence or encrypted subscription whose auth was signed with it gets `pusher:subscription_error`
/// (`AuthError`, status 401: pusher-js emits it on the channel, Laravel Echo's `.error()` hears it) and a `pusher:error`
/// 4009 naming the channel (the connection stays open; pysher hands a channel's error to the channel); the connection
/// leaves the channel and its presence set (other members get `member_removed`). The client subscribes again with a
/// fresh auth to get it back. A sign-in signed with it ends the connection with 4200, so pusher-js reconnects at once
/// and signs in and authorizes its channels again through the app's endpoints, with the new key.
extension PusherConnection {
    /// The app's secrets as they are now: a key revoked after this connection opened no longer verifies on it.
    var currentSecrets: [String] { self.bus.apps.app(id: self.app.id)?.secrets ?? [] }

    /// Ends the sign-in or the subscriptions whose signature the revoked key `signer` made.
    func revoke(_ signer: KeyFingerprint) async {
        let scopes = self.keyGrants.withLock { $0.revoke(signer) }
        guard !scopes.isEmpty, self.closeCode == nil else { return }
        if scopes.contains(.connection) {
            self.context.environment.gate.report(.badSignature, app: self.app.id, caller: self.caller, detail: "sign-in signed with a revoked key")
            return self.terminate(.reconnect, "the key that signed the sign-in was revoked; reconnect and sign in again")
        }
        let subscribed = self.channels
        var ended: [String] = []
        for case .channel(let channel) in scopes where subscribed.contains(channel) {
            // Leave first, so nothing of the channel follows the error.
            await self.unsubscribe(channel)
            let message = "the key that signed the auth for \(channel) was revoked; subscribe again with a new auth"
            self.session.send(PusherReply.subscriptionError(channel: channel, type: "AuthError", error: message, status: 401))
            self.session.send(PusherReply.error(.unauthorized, message, channel: channel))
            ended.append(channel)
        }
        guard !ended.isEmpty else { return }
        let named = ended.prefix(5).joined(separator: ", ") + (ended.count > 5 ? " and \(ended.count - 5) more" : "")
        self.context.environment.gate.report(.badSignature, app: self.app.id, caller: self.caller, detail: "\(named): auth signed with a revoked key")
    }
}
