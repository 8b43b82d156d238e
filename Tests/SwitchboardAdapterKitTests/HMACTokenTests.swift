import Crypto
import Foundation
import NIOCore
import Testing

@testable import SwitchboardAdapterKit

@Suite struct HMACTokenTests {
    let secret = "sk_test_secret"
    let now: Int64 = 1_800_000_000

    func token(header: String = #"{"alg":"HS256","typ":"JWT"}"#, payload: String, secret: String? = nil) -> String {
        let h = HMACToken.base64URL(Data(header.utf8))
        let p = HMACToken.base64URL(Data(payload.utf8))
        let signed = HMACToken.sign(payload: ByteBuffer(string: payload), secret: secret ?? self.secret)
        let signature = signed.split(separator: ".")[2]
        return "\(h).\(p).\(signature)"
    }

    @Test func aMintedTokenVerifiesWithItsClaims() throws {
        let token = HMACToken.mint(
            secret: self.secret,
            subject: "u1",
            expiresAt: self.now + 60,
            channel: "private-a",
            permissions: ["subscribe"]
        )
        let claims = try HMACToken.verify(token, secrets: [self.secret], now: self.now)
        #expect(claims.subject == "u1")
        #expect(claims.channel == "private-a")
        #expect(claims.permissions == ["subscribe"])
    }

    @Test func anExpiredTokenIsRefused() {
        let token = HMACToken.mint(secret: self.secret, subject: "u", expiresAt: self.now - 1)
        #expect(throws: HMACToken.Failure.expired) { try HMACToken.verify(token, secrets: [self.secret], now: self.now) }
    }

    @Test func aTokenSignedWithAnotherSecretIsRefused() {
        let token = HMACToken.mint(secret: "other", subject: "u", expiresAt: self.now + 60)
        #expect(throws: HMACToken.Failure.badSignature) { try HMACToken.verify(token, secrets: [self.secret], now: self.now) }
    }

    @Test func everySecretOfTheAppVerifiesDuringRotation() throws {
        let token = HMACToken.mint(secret: "old", subject: "u", expiresAt: self.now + 60)
        _ = try HMACToken.verify(token, secrets: ["new", "old"], now: self.now)
    }

    @Test func algNoneIsRefused() {
        let header = HMACToken.base64URL(Data(#"{"alg":"none","typ":"JWT"}"#.utf8))
        let payload = HMACToken.base64URL(Data(#"{"sub":"u"}"#.utf8))
        #expect(throws: HMACToken.Failure.unsupportedAlgorithm("none")) {
            try HMACToken.verify("\(header).\(payload).", secrets: [self.secret], now: self.now)
        }
    }

    @Test func otherAlgorithmsAreRefusedEvenWithAValidMac() {
        let token = self.token(header: #"{"alg":"RS256"}"#, payload: #"{"sub":"u"}"#)
        #expect(throws: HMACToken.Failure.unsupportedAlgorithm("RS256")) { try HMACToken.verify(token, secrets: [self.secret], now: self.now) }
    }

    @Test func hs384AndHS512TokensVerifyAsCentrifugoAcceptsThemAndTheHeaderPicksTheHash() throws {
        let header = HMACToken.base64URL(Data(#"{"alg":"HS512","typ":"JWT"}"#.utf8))
        let payload = HMACToken.base64URL(Data(#"{"sub":"u512"}"#.utf8))
        let mac = HMAC<SHA512>.authenticationCode(for: Data("\(header).\(payload)".utf8), using: SymmetricKey(data: Data(self.secret.utf8)))
        let hs512 = "\(header).\(payload).\(HMACToken.base64URL(Data(mac)))"
        #expect(try HMACToken.verify(hs512, secrets: [self.secret], now: self.now).subject == "u512")
        let header384 = HMACToken.base64URL(Data(#"{"alg":"HS384"}"#.utf8))
        let mac384 = HMAC<SHA384>.authenticationCode(for: Data("\(header384).\(payload)".utf8), using: SymmetricKey(data: Data(self.secret.utf8)))
        let hs384 = "\(header384).\(payload).\(HMACToken.base64URL(Data(mac384)))"
        #expect(try HMACToken.verify(hs384, secrets: [self.secret], now: self.now).subject == "u512")
        // An HS256 MAC under an HS512 header, or the reverse, does not verify.
        let relabelled = self.token(header: #"{"alg":"HS512"}"#, payload: #"{"sub":"u"}"#)
        #expect(throws: HMACToken.Failure.badSignature) { try HMACToken.verify(relabelled, secrets: [self.secret], now: self.now) }
        let downgraded = "\(HMACToken.base64URL(Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8))).\(payload).\(HMACToken.base64URL(Data(mac)))"
        #expect(throws: HMACToken.Failure.badSignature) { try HMACToken.verify(downgraded, secrets: [self.secret], now: self.now) }
    }

    @Test func garbageIsMalformed() {
        for garbage in ["", "abc", "a.b", "a.b.c.d", "!!.??.**"] {
            #expect(throws: HMACToken.Failure.malformed) { try HMACToken.verify(garbage, secrets: [self.secret], now: self.now) }
        }
    }

    @Test func aNonNumericExpiryIsMalformed() {
        let token = HMACToken.sign(payload: ByteBuffer(string: #"{"sub":"u","exp":"soon"}"#), secret: self.secret)
        #expect(throws: HMACToken.Failure.malformed) { try HMACToken.verify(token, secrets: [self.secret], now: self.now) }
    }

    @Test func aFractionalExpIsANumericDate() throws {
        let valid = HMACToken.sign(payload: ByteBuffer(string: #"{"sub":"u","exp":\#(self.now + 60).75}"#), secret: self.secret)
        #expect(try HMACToken.verify(valid, secrets: [self.secret], now: self.now).expiresAt == self.now + 60)
        let past = HMACToken.sign(payload: ByteBuffer(string: #"{"sub":"u","exp":\#(self.now - 1).5}"#), secret: self.secret)
        #expect(throws: HMACToken.Failure.expired) { try HMACToken.verify(past, secrets: [self.secret], now: self.now) }
        let exponent = HMACToken.sign(payload: ByteBuffer(string: #"{"sub":"u","exp":1.9e9}"#), secret: self.secret)
        #expect(try HMACToken.verify(exponent, secrets: [self.secret], now: self.now).expiresAt == 1_900_000_000)
    }

    @Test func aTokenBeforeItsNotBeforeIsRefusedAsExpired() throws {
        for nbf in ["\(self.now + 60)", "\(self.now).5"] {
            let early = HMACToken.sign(payload: ByteBuffer(string: #"{"sub":"u","nbf":\#(nbf)}"#), secret: self.secret)
            #expect(throws: HMACToken.Failure.expired) { try HMACToken.verify(early, secrets: [self.secret], now: self.now) }
        }
        let valid = HMACToken.sign(payload: ByteBuffer(string: #"{"sub":"u","nbf":\#(self.now)}"#), secret: self.secret)
        #expect(try HMACToken.verify(valid, secrets: [self.secret], now: self.now).notBefore == self.now)
        let bad = HMACToken.sign(payload: ByteBuffer(string: #"{"sub":"u","nbf":"later"}"#), secret: self.secret)
        #expect(throws: HMACToken.Failure.malformed) { try HMACToken.verify(bad, secrets: [self.secret], now: self.now) }
    }

    @Test func shortSecretsWork() throws {
        let token = HMACToken.mint(secret: "k", subject: "u", expiresAt: nil)
        #expect(try HMACToken.verify(token, secrets: ["k"], now: self.now).subject == "u")
    }
}
