import Foundation
import NIOCore
import Testing

@testable import SwitchboardAdapterKit

@Suite struct HS256TokenTests {
    let secret = "sk_test_secret"
    let now: Int64 = 1_800_000_000

    func token(header: String = #"{"alg":"HS256","typ":"JWT"}"#, payload: String, secret: String? = nil) -> String {
        let h = HS256Token.base64URL(Data(header.utf8))
        let p = HS256Token.base64URL(Data(payload.utf8))
        let signed = HS256Token.sign(payload: ByteBuffer(string: payload), secret: secret ?? self.secret)
        let signature = signed.split(separator: ".")[2]
        return "\(h).\(p).\(signature)"
    }

    @Test func aMintedTokenVerifiesWithItsClaims() throws {
        let token = HS256Token.mint(
            secret: self.secret,
            subject: "u1",
            expiresAt: self.now + 60,
            channel: "private-a",
            permissions: ["subscribe"]
        )
        let claims = try HS256Token.verify(token, secrets: [self.secret], now: self.now)
        #expect(claims.subject == "u1")
        #expect(claims.channel == "private-a")
        #expect(claims.permissions == ["subscribe"])
    }

    @Test func anExpiredTokenIsRefused() {
        let token = HS256Token.mint(secret: self.secret, subject: "u", expiresAt: self.now - 1)
        #expect(throws: HS256Token.Failure.expired) { try HS256Token.verify(token, secrets: [self.secret], now: self.now) }
    }

    @Test func aTokenSignedWithAnotherSecretIsRefused() {
        let token = HS256Token.mint(secret: "other", subject: "u", expiresAt: self.now + 60)
        #expect(throws: HS256Token.Failure.badSignature) { try HS256Token.verify(token, secrets: [self.secret], now: self.now) }
    }

    @Test func everySecretOfTheAppVerifiesDuringRotation() throws {
        let token = HS256Token.mint(secret: "old", subject: "u", expiresAt: self.now + 60)
        _ = try HS256Token.verify(token, secrets: ["new", "old"], now: self.now)
    }

    @Test func algNoneIsRefused() {
        let header = HS256Token.base64URL(Data(#"{"alg":"none","typ":"JWT"}"#.utf8))
        let payload = HS256Token.base64URL(Data(#"{"sub":"u"}"#.utf8))
        #expect(throws: HS256Token.Failure.unsupportedAlgorithm("none")) {
            try HS256Token.verify("\(header).\(payload).", secrets: [self.secret], now: self.now)
        }
    }

    @Test func otherAlgorithmsAreRefusedEvenWithAValidMac() {
        let token = self.token(header: #"{"alg":"HS512"}"#, payload: #"{"sub":"u"}"#)
        #expect(throws: HS256Token.Failure.unsupportedAlgorithm("HS512")) { try HS256Token.verify(token, secrets: [self.secret], now: self.now) }
    }

    @Test func garbageIsMalformed() {
        for garbage in ["", "abc", "a.b", "a.b.c.d", "!!.??.**"] {
            #expect(throws: HS256Token.Failure.malformed) { try HS256Token.verify(garbage, secrets: [self.secret], now: self.now) }
        }
    }

    @Test func aNonNumericExpiryIsMalformed() {
        let token = HS256Token.sign(payload: ByteBuffer(string: #"{"sub":"u","exp":"soon"}"#), secret: self.secret)
        #expect(throws: HS256Token.Failure.malformed) { try HS256Token.verify(token, secrets: [self.secret], now: self.now) }
    }

    @Test func aFractionalExpIsANumericDate() throws {
        let valid = HS256Token.sign(payload: ByteBuffer(string: #"{"sub":"u","exp":\#(self.now + 60).75}"#), secret: self.secret)
        #expect(try HS256Token.verify(valid, secrets: [self.secret], now: self.now).expiresAt == self.now + 60)
        let past = HS256Token.sign(payload: ByteBuffer(string: #"{"sub":"u","exp":\#(self.now - 1).5}"#), secret: self.secret)
        #expect(throws: HS256Token.Failure.expired) { try HS256Token.verify(past, secrets: [self.secret], now: self.now) }
        let exponent = HS256Token.sign(payload: ByteBuffer(string: #"{"sub":"u","exp":1.9e9}"#), secret: self.secret)
        #expect(try HS256Token.verify(exponent, secrets: [self.secret], now: self.now).expiresAt == 1_900_000_000)
    }

    @Test func aTokenBeforeItsNotBeforeIsRefusedAsExpired() throws {
        for nbf in ["\(self.now + 60)", "\(self.now).5"] {
            let early = HS256Token.sign(payload: ByteBuffer(string: #"{"sub":"u","nbf":\#(nbf)}"#), secret: self.secret)
            #expect(throws: HS256Token.Failure.expired) { try HS256Token.verify(early, secrets: [self.secret], now: self.now) }
        }
        let valid = HS256Token.sign(payload: ByteBuffer(string: #"{"sub":"u","nbf":\#(self.now)}"#), secret: self.secret)
        #expect(try HS256Token.verify(valid, secrets: [self.secret], now: self.now).notBefore == self.now)
        let bad = HS256Token.sign(payload: ByteBuffer(string: #"{"sub":"u","nbf":"later"}"#), secret: self.secret)
        #expect(throws: HS256Token.Failure.malformed) { try HS256Token.verify(bad, secrets: [self.secret], now: self.now) }
    }

    @Test func shortSecretsWork() throws {
        let token = HS256Token.mint(secret: "k", subject: "u", expiresAt: nil)
        #expect(try HS256Token.verify(token, secrets: ["k"], now: self.now).subject == "u")
    }
}
