import Synchronization
import Testing

@testable import SwitchboardAdapterKit

@Suite("Key fingerprints and revocation")
struct KeyRevocationTests {
    @Test func aFingerprintIsStableDistinctAndDoesNotSpellTheSecret() {
        let a = KeyFingerprint(secret: "sk_live_aaaaaaaaaaaaaaaaaaaaaaaa")
        #expect(a == KeyFingerprint(secret: "sk_live_aaaaaaaaaaaaaaaaaaaaaaaa"))
        #expect(a != KeyFingerprint(secret: "sk_live_aaaaaaaaaaaaaaaaaaaaaaab"))
        #expect(a.description.count == 16 && a.description.allSatisfy(\.isHexDigit))
        #expect(!a.description.contains("aaaa"))
        // SHA-256("abc") begins ba7816bf8f01cfea.
        #expect(KeyFingerprint(secret: "abc").description == "ba7816bf8f01cfea")
    }

    @Test func aVerifiedTokenNamesTheSecretThatSignedIt() throws {
        let token = HMACToken.mint(secret: "old-secret", subject: "u", expiresAt: nil, channel: "private-a")
        let claims = try HMACToken.verify(token, secrets: ["new-secret", "old-secret"], now: 0)
        #expect(claims.signer == KeyFingerprint(secret: "old-secret"))
        let newer = HMACToken.mint(secret: "new-secret", subject: "u", expiresAt: nil)
        #expect(try HMACToken.verify(newer, secrets: ["new-secret", "old-secret"], now: 0).signer == KeyFingerprint(secret: "new-secret"))
        #expect(throws: HMACToken.Failure.badSignature) { try HMACToken.verify(token, secrets: ["new-secret"], now: 0) }
    }

    @Test func grantsAreReplacedByNewerSignersAndRevokedByTheirOwn() {
        let old = KeyFingerprint(secret: "old")
        let new = KeyFingerprint(secret: "new")
        var grants = KeyGrants()
        grants.record(.channel("private-b"), signer: old)
        grants.record(.connection, signer: old)
        grants.record(.channel("private-a"), signer: old)
        grants.record(.channel("private-c"), signer: old)
        // A refreshed token signed with the new key replaces the old grant; a public channel records nothing.
        grants.record(.channel("private-c"), signer: new)
        grants.record(.channel("news"), signer: nil)
        #expect(grants.signer(of: .channel("news")) == nil)
        #expect(grants.revoke(old) == [.connection, .channel("private-a"), .channel("private-b")])
        #expect(grants.revoke(old).isEmpty)
        #expect(grants.signer(of: .channel("private-c")) == new)
        grants.forget(.channel("private-c"))
        #expect(grants.isEmpty)
    }

    @Test func revokingReachesEveryConnectionOfTheAppAndWaitsForThem() async {
        let notice = ShutdownNotice()
        let heard = Mutex<[String]>([])
        let old = KeyFingerprint(secret: "old")
        _ = notice.register(app: "a", revoked: { signer in heard.withLock { $0.append("a1:\(signer == old)") } }) { _ in }
        _ = notice.register(app: "a", revoked: { _ in heard.withLock { $0.append("a2") } }) { _ in }
        _ = notice.register(app: "a") { _ in heard.withLock { $0.append("a3 said goodbye") } }
        _ = notice.register(app: "b", revoked: { _ in heard.withLock { $0.append("b1") } }) { _ in }
        await notice.revoke(app: "a", signer: old)
        #expect(heard.withLock { $0.sorted() } == ["a1:true", "a2"])
        #expect(notice.pending == 4)
    }
}
