import Hummingbird
import SwitchboardAdapterKit
import SwitchboardStore

/// `GET|POST /api/realtime/apps/{app}/keys`, `POST …/keys/{keyId}/rotate`, `DELETE …/keys/{keyId}`.
///
/// A secret is in a response once, when its key is created; afterwards only its preview is shown. Revoking a key ends
/// the subscriptions and connections it authorized on this node before the reply.
struct KeyRoutes: Sendable {
    let controlPlane: ControlPlane
    let authorized: AdminAuthorization
    /// With Redis, carries revocations to the other nodes (LiveSettingsSync.swift).
    var sync: LiveSettingsSync?

    func register(on router: Router<SwitchboardContext>) {
        router.get("/api/realtime/apps/:app/keys") { request, context in
            try await self.authorized(request, context) {
                let keys = try self.controlPlane.keys(app: context.parameters.require("app"))
                return JSONResponse.make { json in
                    json.beginObject()
                    json.key("keys")
                    json.beginArray()
                    for key in keys { json.keyRecord(key) }
                    json.endArray()
                    json.endObject()
                }
            }
        }
        router.post("/api/realtime/apps/:app/keys") { request, context in
            try await self.authorized(request, context) {
                Self.created(try self.controlPlane.createKey(app: context.parameters.require("app")))
            }
        }
        router.post("/api/realtime/apps/:app/keys/:keyId/rotate") { request, context in
            try await self.authorized(request, context) {
                Self.created(try self.controlPlane.rotateKey(app: context.parameters.require("app"), keyID: context.parameters.require("keyId")))
            }
        }
        router.delete("/api/realtime/apps/:app/keys/:keyId") { request, context in
            try await self.authorized(request, context) {
                let app = try context.parameters.require("app")
                let revoked = try self.controlPlane.revokeKey(app: app, keyID: context.parameters.require("keyId"))
                // The reply waits until what the key authorized on this node has ended, so a caller can rely on it.
                await self.controlPlane.endGrants(of: revoked, app: app)
                if let sync = self.sync, let signer = revoked.signer {
                    do {
                        try await sync.shareRevocation(app: app, signer: signer)
                    } catch {
                        throw AdminError(
                            status: .serviceUnavailable,
                            code: "engine_unavailable",
                            message: "revoked on this node, but Redis cannot be reached: the other nodes still accept the key (revoke it there too)"
                        )
                    }
                }
                return JSONResponse.make { json in
                    json.beginObject()
                    json.key("key")
                    json.keyRecord(revoked.key)
                    json.endObject()
                }
            }
        }
    }

    /// 201 `{key: {id, preview, createdAt, revokedAt}, secret}`.
    static func created(_ created: (key: StoredKey, secret: String)) -> Response {
        JSONResponse.make(.created) { json in
            json.beginObject()
            json.key("key")
            json.keyRecord(created.key)
            json.member("secret", created.secret)
            json.endObject()
        }
    }
}
