import Logging
import SwitchboardAdapterKit
import SwitchboardCore
import SwitchboardStore
import Synchronization

extension ControlPlane {
    /// Revokes, on this node, the active key of app `id` whose secret has `fingerprint` (another node revoked it), then
    /// ends what it authorized here. Nothing happens when no such key is active here (it was created on another node,
    /// or is already revoked); the app's last active key is kept, with a warning, as a local revocation would.
    func applySharedRevocation(fingerprint: String, app id: String, logger: Logger) async throws {
        let revoked = try self.changes.withLock { _ -> RevokedKey? in
            guard try self.store.app(id: id) != nil else { return nil }
            // Both lists are newest first and only change under `changes`, so the nth active key holds the nth secret.
            let active = try self.store.keys(app: id).filter(\.isActive)
            let secrets = try self.store.activeSecrets(app: id)
            guard active.count == secrets.count,
                let index = secrets.firstIndex(where: { KeyFingerprint(secret: $0).description == fingerprint })
            else { return nil }
            switch try self.store.revokeKey(app: id, id: active[index].id, now: WallClock.milliseconds()) {
            case .revoked(let key):
                try self.publish(id)
                return RevokedKey(key: key, signer: KeyFingerprint(secret: secrets[index]))
            case .lastActiveKey:
                logger.warning(
                    "another node revoked this app's last active key here; it stays active on this node (add a key first)",
                    metadata: ["app": "\(id)"]
                )
                return nil
            case .notFound, .alreadyRevoked:
                return nil
            }
        }
        guard let revoked else { return }
        logger.notice("revoked a key that another node revoked", metadata: ["app": "\(id)", "key": "\(revoked.key.id)"])
        await self.endGrants(of: revoked, app: id)
    }
}
