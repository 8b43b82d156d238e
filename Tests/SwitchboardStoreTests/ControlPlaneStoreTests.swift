import Crypto
import Foundation
import SwitchboardCore
import Testing

@testable import SwitchboardStore

@Suite struct ControlPlaneStoreTests {
    static func temporaryPath() -> String { NSTemporaryDirectory() + "cps-\(UUID().uuidString)/store.sqlite" }

    static func app(_ id: String = "1001", key: String = "pk_a") -> StoredApp {
        StoredApp(
            id: id,
            key: key,
            name: "Demo",
            plan: "pro",
            environment: "production",
            region: "eu",
            enabled: true,
            origins: ["https://a.example.com", "https://*.example.org"],
            hosts: ["a.example.com"],
            clientEvents: false,
            upstream: "http://127.0.0.1:3000",
            limits: LimitOverrides(maxChannels: 0, maxMessageBytes: 2048),
            createdAt: 1_000
        )
    }

    @Test func migrationsRunInOrderAndReopeningUpgradesNothingTwice() throws {
        let path = Self.temporaryPath()
        let applied = try SQLiteStore(path: path).appliedMigrations()
        #expect(Array(applied.prefix(2)) == ["v1-security-events", "v2_control_plane"])
        #expect(applied == SQLiteStore.migrations.map(\.name))
        #expect(try SQLiteStore(path: path).appliedMigrations() == applied)
    }

    @Test func anAppRoundTripsWithEveryEditableField() throws {
        let store = try ControlPlaneStore(store: SQLiteStore(path: ":memory:"), box: SecretBox(key: SymmetricKey(size: .bits256)))
        try store.insert(Self.app(), secrets: ["sk_first_secret_1234"])
        #expect(try store.app(id: "1001") == Self.app())
        var edited = Self.app()
        edited.origins = ["http://localhost:8080"]
        edited.enabled = false
        edited.upstream = nil
        edited.limits = LimitOverrides(publishesPerMinute: 10)
        #expect(try store.update(edited))
        #expect(try store.apps() == [edited])
        #expect(try store.update(Self.app("9999")) == false)
    }

    @Test func theFirstConfiguredSecretIsNewestSoItSignsAndAllVerify() throws {
        let store = try ControlPlaneStore(store: SQLiteStore(path: ":memory:"), box: SecretBox(key: SymmetricKey(size: .bits256)))
        let keys = try store.insert(Self.app(), secrets: ["sk_new_secret_AAAA", "sk_old_secret_BBBB"])
        #expect(keys.map(\.preview) == ["sk_live_••••AAAA", "sk_live_••••BBBB"])
        #expect(try store.activeSecrets(app: "1001") == ["sk_new_secret_AAAA", "sk_old_secret_BBBB"])
        let added = try store.addKey(app: "1001", secret: "sk_newest_CCCC", now: 5_000)
        #expect(added.id.hasPrefix("key_") && added.id.count == 20)
        #expect(try store.activeSecrets(app: "1001").first == "sk_newest_CCCC")
        #expect(try store.keys(app: "1001").map(\.id).first == added.id)
    }

    @Test func revokingStopsAKeyButNeverTheLastActiveOne() throws {
        let store = try ControlPlaneStore(store: SQLiteStore(path: ":memory:"), box: SecretBox(key: SymmetricKey(size: .bits256)))
        let keys = try store.insert(Self.app(), secrets: ["sk_one_1111", "sk_two_2222"])
        guard case .revoked(let revoked) = try store.revokeKey(app: "1001", id: keys[1].id, now: 7_000) else {
            Issue.record("expected the key to be revoked")
            return
        }
        #expect(revoked.revokedAt == 7_000)
        #expect(try store.activeSecrets(app: "1001") == ["sk_one_1111"])
        #expect(try store.revokeKey(app: "1001", id: keys[1].id, now: 8_000) == .alreadyRevoked)
        #expect(try store.revokeKey(app: "1001", id: keys[0].id, now: 8_000) == .lastActiveKey)
        #expect(try store.revokeKey(app: "1001", id: "key_missing", now: 8_000) == .notFound)
        #expect(try store.keys(app: "1001").map(\.revokedAt) == [nil, 7_000])
    }

    @Test func theDatabaseFileNeverHoldsASecretInPlaintext() throws {
        let path = Self.temporaryPath()
        let secret = "sk_live_plaintext_canary_0123456789"
        do {
            let store = try ControlPlaneStore(store: SQLiteStore(path: path), box: SecretBox(key: SymmetricKey(size: .bits256)))
            try store.insert(Self.app(), secrets: [secret])
        }
        let directory = (path as NSString).deletingLastPathComponent
        for file in try FileManager.default.contentsOfDirectory(atPath: directory) {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + file))
            #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(file) holds the secret")
        }
    }

    @Test func aWrongMasterKeyIsRefusedWhenTheStoreOpens() throws {
        let path = Self.temporaryPath()
        let right = SymmetricKey(size: .bits256)
        try ControlPlaneStore(store: SQLiteStore(path: path), box: SecretBox(key: right)).insert(Self.app(), secrets: ["sk_x_1234"])
        #expect(throws: ControlPlaneStore.WrongMasterKey.self) {
            try ControlPlaneStore(store: SQLiteStore(path: path), box: SecretBox(key: SymmetricKey(size: .bits256)))
        }
        let reopened = try ControlPlaneStore(store: SQLiteStore(path: path), box: SecretBox(key: right))
        #expect(try reopened.activeSecrets(app: "1001") == ["sk_x_1234"])
    }

    @Test func previewIsSkLiveDotsAndTheLastFourCharacters() {
        #expect(StoredKey.preview(of: "sk_test_main_0123456789") == "sk_live_••••6789")
        #expect(StoredKey.preview(of: "abc") == "sk_live_••••abc")
    }

    @Test func limitOverridesReplaceThePlansValuesAndZeroIsUnlimited() {
        let plan = LimitOverrides(maxConnections: 0, maxChannels: 3, historySize: 5).applied(to: .free)
        #expect(plan.name == "free")
        #expect(plan.maxConnections == nil && plan.maxChannels == 3 && plan.historySize == 5)
        #expect(plan.maxMessageBytes == Plan.free.maxMessageBytes && plan.publishesPerMinute == Plan.free.publishesPerMinute)
    }

    @Test func securityEventsArePrunedByAgeAndByCount() throws {
        let store = try SQLiteStore(path: ":memory:")
        let events = (1...10).map { SecurityEvent(time: Int64($0) * 1_000, app: "1001", kind: .originBlocked, detail: "e\($0)") }
        try store.append(events, retain: 1_000)
        #expect(try store.pruneSecurityEvents(before: 3_000, maxRows: 1_000) == 2)
        #expect(try store.securityEvents(SecurityEventQuery(limit: 100)).map(\.detail).last == "e3")
        #expect(try store.pruneSecurityEvents(before: 0, maxRows: 4) == 4)
        #expect(try store.securityEvents(SecurityEventQuery(limit: 100)).map(\.detail) == ["e10", "e9", "e8", "e7"])
    }
}
