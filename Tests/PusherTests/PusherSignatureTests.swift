import NIOCore
import Pusher
import Testing

/// Signature math against the worked examples of Pusher's documentation.
@Suite struct PusherSignatureTests {
    static let key = "278d425bdf160c739803"
    static let secret = "7ad3773142a6692b25b8"

    @Test func privateChannelSignatureMatchesThePublishedExample() {
        let auth = PusherSignature.channelAuth(key: Self.key, secret: Self.secret, socketID: "1234.1234", channel: "private-foobar")
        #expect(auth == "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4")
    }

    @Test func presenceChannelSignatureCoversChannelDataAsSent() {
        let channelData = #"{"user_id":10,"user_info":{"name":"Mr. Pusher"}}"#
        let auth = PusherSignature.channelAuth(
            key: Self.key,
            secret: Self.secret,
            socketID: "1234.1234",
            channel: "presence-foobar",
            channelData: channelData
        )
        #expect(auth == "278d425bdf160c739803:afaed3695da2ffd16931f457e338e6c9f2921fa133ce7dac49f529792be6304c")
    }

    @Test func userAuthenticationSignsSocketUserAndUserData() {
        // Reference computed with Python's hmac module over `1234.1234::user::{"id":"12345"}`.
        let auth = PusherSignature.userAuth(key: Self.key, secret: Self.secret, socketID: "1234.1234", userData: #"{"id":"12345"}"#)
        #expect(auth == "278d425bdf160c739803:4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba")
    }

    @Test func verifyAcceptsEverySecretOfTheAppAndNothingElse() {
        let signed = "1234.1234:private-foobar"
        let auth = PusherSignature.channelAuth(key: Self.key, secret: Self.secret, socketID: "1234.1234", channel: "private-foobar")
        #expect(PusherSignature.verify(auth: auth, key: Self.key, secrets: ["new-secret", Self.secret], signed: signed))
        #expect(!PusherSignature.verify(auth: auth, key: Self.key, secrets: ["new-secret"], signed: signed))
        #expect(!PusherSignature.verify(auth: auth, key: "another-key", secrets: [Self.secret], signed: signed))
        #expect(!PusherSignature.verify(auth: auth, key: Self.key, secrets: [Self.secret], signed: "1234.1235:private-foobar"))
        #expect(!PusherSignature.verify(auth: "no-colon", key: Self.key, secrets: [Self.secret], signed: signed))
        #expect(!PusherSignature.verify(auth: Self.key + ":", key: Self.key, secrets: [Self.secret], signed: signed))
    }

    @Test func uppercaseHexStillVerifies() {
        let auth = PusherSignature.channelAuth(key: Self.key, secret: Self.secret, socketID: "1234.1234", channel: "private-foobar")
        let upper = Self.key + ":" + auth.split(separator: ":")[1].uppercased()
        #expect(PusherSignature.verify(auth: upper, key: Self.key, secrets: [Self.secret], signed: "1234.1234:private-foobar"))
    }

    @Test func webhookSignatureIsTheHMACOfTheBody() {
        // Python: hmac.new(b"7ad3773142a6692b25b8", b'{"time_ms":1,"events":[]}', hashlib.sha256).hexdigest()
        let body = ByteBuffer(string: #"{"time_ms":1,"events":[]}"#)
        #expect(
            PusherSignature.hmacHex(secret: Self.secret, bytes: body)
                == PusherSignature.hmacHex(secret: Self.secret, string: #"{"time_ms":1,"events":[]}"#)
        )
        #expect(PusherSignature.hmacHex(secret: Self.secret, bytes: body).count == 64)
    }

    @Test func md5OfTheDocumentedBody() {
        let body = ByteBuffer(string: #"{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}"#)
        #expect(PusherSignature.md5Hex(body) == "ec365a775a4cd0599faeb73354201b6f")
    }
}
