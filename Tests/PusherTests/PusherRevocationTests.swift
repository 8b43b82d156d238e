import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore
import Testing

@testable import Pusher

/// A revoked key ends the subscriptions and the sign-in its signatures authorized, and stops verifying at once.
@Suite struct PusherRevocationTests {
    static func rotate(_ harness: PusherHarness, _ secrets: [String]) {
        var app = harness.app
        app.secrets = secrets
        harness.bus.apps.upsert(app)
    }

    static func subscribe(
        _ harness: PusherHarness,
        _ connection: PusherConnection,
        _ channel: String,
        secret: String,
        channelData: String? = nil
    ) async {
        let auth = PusherSignature.channelAuth(
            key: harness.app.key,
            secret: secret,
            socketID: connection.socketID,
            channel: channel,
            channelData: channelData
        )
        var data = #"{"channel":"\#(channel)","auth":"\#(auth)""#
        if let channelData { data += #","channel_data":\#(String(buffer: JSONWriter.encodeString(channelData)))"# }
        await harness.send(connection, #"{"event":"pusher:subscribe","data":\#(data)}}"#)
    }

    @Test func theSignatureNamesTheSecretThatMadeIt() {
        let auth = PusherSignature.channelAuth(key: "pk", secret: "old", socketID: "1.2", channel: "private-a")
        let signed = PusherSignature.channelString(socketID: "1.2", channel: "private-a", channelData: nil)
        #expect(PusherSignature.signer(auth: auth, key: "pk", secrets: ["new", "old"], signed: signed) == KeyFingerprint(secret: "old"))
        #expect(PusherSignature.signer(auth: auth, key: "pk", secrets: ["new"], signed: signed) == nil)
        #expect(PusherSignature.signer(auth: auth, key: "other", secrets: ["old"], signed: signed) == nil)
    }

    @Test func revokingEndsTheSubscriptionsItSignedWithASubscriptionErrorAnd4009() async throws {
        let harness = PusherHarness()
        Self.rotate(harness, ["sk_new", "sk_test_secret"])
        let connection = try harness.connect()
        let member = #"{"user_id":"u1"}"#
        await Self.subscribe(harness, connection, "private-old", secret: "sk_test_secret")
        await Self.subscribe(harness, connection, "presence-old", secret: "sk_test_secret", channelData: member)
        await Self.subscribe(harness, connection, "private-new", secret: "sk_new")
        await harness.subscribe(connection, "news", sign: false)
        _ = await harness.frames(connection)

        Self.rotate(harness, ["sk_new"])
        await connection.revoke(KeyFingerprint(secret: "sk_test_secret"))
        let frames = await harness.frames(connection)
        #expect(frames.names == ["pusher:subscription_error", "pusher:error", "pusher:subscription_error", "pusher:error"])
        #expect(Set(frames.compactMap { $0.string("channel") }) == ["private-old", "presence-old"])
        #expect(frames.filter { $0.string("event") == "pusher:error" }.allSatisfy { $0.errorCode == 4009 })
        #expect(frames.first?.object("data")?.integer("status") == 401)
        #expect(connection.channels == ["private-new", "news"] && connection.closeCode == nil)
        #expect(try await harness.bus.members(app: "1", channel: "presence-old").isEmpty)

        // The revoked key's signature is refused on the connection that is still open.
        await Self.subscribe(harness, connection, "private-old", secret: "sk_test_secret")
        #expect(await harness.frames(connection).names == ["pusher:subscription_error", "pusher:error"])
        #expect(connection.channels == ["private-new", "news"])
    }

    @Test func revokingTheSignInsKeyEndsTheConnectionWith4200() async throws {
        let harness = PusherHarness()
        let connection = try harness.connect()
        await harness.signIn(connection, userData: #"{"id":"u1"}"#)
        #expect(await harness.frames(connection).names == ["pusher:signin_success"])
        await connection.revoke(KeyFingerprint(secret: "other"))
        #expect(connection.closeCode == nil)
        await connection.revoke(KeyFingerprint(secret: "sk_test_secret"))
        #expect(connection.closeCode == .reconnect)
    }
}
