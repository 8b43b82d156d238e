import Foundation
import Logging
import SwitchboardAdapterKit
import SwitchboardCore
import SwitchboardStore
import Testing

@testable import SwitchboardEdge

@Suite struct SharedAppFieldsTests {
    static func plane() throws -> (ControlPlane, AppRegistry) {
        var config = SwitchboardConfig()
        config.store.path = ":memory:"
        config.apps = [App(id: "1001", key: "pk_one", secrets: ["sk_config_secret_1234"], origins: ["https://a.example.com"])]
        let registry = AppRegistry(apps: [])
        let plane = try ControlPlane.open(
            store: SQLiteStore(path: ":memory:"),
            registry: registry,
            config: config,
            environment: ["SWITCHBOARD_MASTER_KEY": "master"],
            logger: Logger(label: "test")
        )
        return (plane, registry)
    }

    @Test func anEditMadeOnAnotherNodeIsAppliedHereAndOnlyOnce() throws {
        let (origin, _) = try Self.plane()
        let edited = try origin.update("1001") { app in
            app.enabled = false
            app.plan = "pro"
            app.origins = ["https://b.example.com"]
            app.limits.maxConnections = 7
        }
        let (plane, registry) = try Self.plane()
        #expect(try plane.applySharedApp(SharedAppFields.document(edited), app: "1001"))
        let app = try #require(registry.app(id: "1001"))
        #expect(!app.enabled && app.plan.name == "pro" && app.plan.maxConnections == 7 && app.origins == ["https://b.example.com"])
        #expect(try !plane.applySharedApp(SharedAppFields.document(edited), app: "1001"))
        #expect(try !plane.applySharedApp(SharedAppFields.document(edited), app: "4242"))
    }

    @Test func aSharedDocumentIsCheckedLikeAnAdminRequest() throws {
        let (plane, registry) = try Self.plane()
        for document in [#"{"plan": "platinum"}"#, #"{"origins": ["not an origin"]}"#, #"{"key": 1, "secret": "x"}"#, "not json"] {
            #expect(throws: AdminError.self) { try plane.applySharedApp(document, app: "1001") }
        }
        #expect(registry.app(id: "1001")?.origins == ["https://a.example.com"])
    }

    @Test func aKeyRevokedOnAnotherNodeIsRevokedHereByItsSecretsFingerprint() async throws {
        let (a, _) = try Self.plane()
        let (b, registry) = try Self.plane()
        _ = try a.createKey(app: "1001")
        let seeded = try #require(try a.keys(app: "1001").last)
        let revoked = try a.revokeKey(app: "1001", keyID: seeded.id)
        let fingerprint = try #require(revoked.signer).description
        // B's only key is that secret: its last active key stays, as a local revocation would refuse.
        try await b.applySharedRevocation(fingerprint: fingerprint, app: "1001", logger: Logger(label: "test"))
        #expect(registry.app(secret: "sk_config_secret_1234")?.id == "1001")
        let added = try b.createKey(app: "1001")
        try await b.applySharedRevocation(fingerprint: fingerprint, app: "1001", logger: Logger(label: "test"))
        #expect(registry.app(secret: "sk_config_secret_1234") == nil)
        #expect(registry.app(secret: added.secret)?.id == "1001")
        try await b.applySharedRevocation(fingerprint: "0123456789abcdef", app: "1001", logger: Logger(label: "test"))
        #expect(try b.keys(app: "1001").filter(\.isActive).count == 1)
    }
}
