import SwitchboardAdapterKit
import SwitchboardCore
import Synchronization

/// Channel grants end with their token: when its `exp` passes without a refresh, or when the key that signed it is
/// revoked.
///
/// The client learns it per channel, the way it learns any refusal: an `error` frame with code `unauthorized`, the
/// channel and a message saying why, then the `unsubscribed` frame an unsubscribe gets; the connection leaves the
/// channel and its presence set (other members see `presence.leave`) and forgets the grant, so a stored grant no
/// longer lets it publish or join either. The connection itself stays open. A client refreshes a grant by sending
/// `subscribe` again for the channel with a new token before `exp`: it gets `subscribed` and keeps its place.
extension JSONActionConnection {
    /// The app's secrets as they are now: a key revoked after this connection opened no longer verifies on it.
    var currentSecrets: [String] { self.bus.apps.app(id: self.app.id)?.secrets ?? [] }

    /// Ends the grants whose token lapsed at `now` (Unix milliseconds).
    func expireTokens(now: Int64 = WallClock.milliseconds()) async {
        let lapsed = self.state.withLock { state -> [String] in
            let names = state.grants.filter { $0.value.expiresAt.map { $0 * 1000 <= now } ?? false }.map(\.key).sorted()
            for name in names { state.grants[name] = nil }
            return names
        }
        await self.endGrants(lapsed, message: "the channel token has expired; subscribe again with a new token", kind: .tokenExpired)
    }

    /// Ends the grants whose token the revoked key `signer` signed.
    func revoke(_ signer: KeyFingerprint) async {
        let revoked = self.state.withLock { state -> [String] in
            let names = state.grants.filter { $0.value.signer == signer }.map(\.key).sorted()
            for name in names { state.grants[name] = nil }
            return names
        }
        await self.endGrants(revoked, message: "the key that signed the channel token was revoked; subscribe with a new token", kind: .tokenInvalid)
    }

    /// Whether a grant's token has lapsed by `now` (Unix milliseconds): a cheap check under the lock, made once a second,
    /// before `expireTokens` does the work.
    /// Whether the checks go on: true while a grant that expires is held; otherwise they stop until the next such grant.
    func continueExpiryChecks() -> Bool {
        self.state.withLock { state in
            state.checkingExpiry = state.grants.values.contains { $0.expiresAt != nil }
            return state.checkingExpiry
        }
    }

    func hasLapsedGrant(now: Int64 = WallClock.milliseconds()) -> Bool {
        self.state.withLock { state in state.grants.values.contains { $0.expiresAt.map { $0 * 1000 <= now } ?? false } }
    }

    /// Leaves each of `channels` (whose grants are already forgotten) that the connection still holds, after an
    /// `unauthorized` error naming it; records one security event for them all.
    func endGrants(_ channels: [String], message: String, kind: SecurityEvent.Kind) async {
        var ended: [String] = []
        for channel in channels {
            // A `subscribe` with a fresh token may have come in since the grant was taken away: it keeps the channel.
            let held = self.state.withLock { state in
                state.grants[channel] == nil && (state.channels.contains(channel) || state.presence[channel] != nil)
            }
            guard held, self.session.end == nil else { continue }
            self.session.send(JSONActionReply.error(.unauthorized, message, channel: channel))
            await self.unsubscribe(channel)
            ended.append(channel)
        }
        guard !ended.isEmpty else { return }
        let named = ended.prefix(5).joined(separator: ", ") + (ended.count > 5 ? " and \(ended.count - 5) more" : "")
        self.environment.gate.report(kind, app: self.app.id, caller: self.caller, detail: "\(named): \(message)")
    }
}
