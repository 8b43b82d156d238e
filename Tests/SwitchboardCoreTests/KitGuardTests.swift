import NIOCore
import Testing

@testable import SwitchboardCore

@Suite struct KitGuardTests {
    func publication(_ event: String, _ json: String, channel: String = "private-x", sender: UInt64? = 7, user: String? = nil) -> Publication {
        Publication(
            app: "1",
            channel: channel,
            event: event,
            data: ByteBuffer(string: json),
            userID: user,
            sender: sender.map(ConnectionID.init),
            timestamp: 0
        )
    }

    func refusal(
        _ guardian: KitGuard,
        _ publication: Publication,
        _ kit: KitRule,
        now: Double = 0,
        byServer: Bool = false,
        kept: DeliveryState = DeliveryState()
    ) async -> KitRefusal.Reason? {
        do {
            try await guardian.admit(publication, kit: kit, byServer: byServer, now: now) { kept }
            return nil
        } catch {
            guard case .kitRefused(let refusal) = error else { return nil }
            return refusal.reason
        }
    }

    @Test func callsCapTheSignalingPayload() async {
        let guardian = KitGuard()
        let kit = KitRule(kind: .calls, maxSignalBytes: 1024)
        let big = "{\"sdp\":\"" + String(repeating: "a", count: 1100) + "\"}"
        #expect(await self.refusal(guardian, self.publication("client-call.offer", big), kit) == .payloadTooLarge)
        #expect(await self.refusal(guardian, self.publication("client-call.offer", "{\"sdp\":\"v=0\"}"), kit) == nil)
    }

    @Test func iceCandidatesAreCountedPerConnectionAndRefill() async {
        let guardian = KitGuard()
        let kit = KitRule(kind: .calls, iceCandidatesPerSecond: 10)
        let batch = "{\"candidates\":[" + Array(repeating: "{\"candidate\":\"c\"}", count: 30).joined(separator: ",") + "],\"count\":1}"
        #expect(await self.refusal(guardian, self.publication("client-call.ice_candidate", batch, sender: 1), kit) == nil)
        #expect(await self.refusal(guardian, self.publication("client-call.ice_candidate", "{\"candidate\":\"c\"}", sender: 1), kit) == .rateLimited)
        #expect(await self.refusal(guardian, self.publication("client-call.ice_candidate", batch, sender: 2), kit) == nil)
        #expect(await self.refusal(guardian, self.publication("call.ice_candidate", batch, sender: nil), kit) == nil)
        #expect(await self.refusal(guardian, self.publication("client-call.ice_candidate", "{\"candidate\":\"c\"}", sender: 1), kit, now: 0.2) == nil)
    }

    @Test func aSealedCandidateBatchCountsByItsSizeWhateverCountItClaims() async {
        let guardian = KitGuard()
        let kit = KitRule(kind: .calls, iceCandidatesPerSecond: 10)
        // 30 candidates' worth of ciphertext claiming to be one: charged 30 of the burst of 30.
        let ciphertext = String(repeating: "A", count: 30 * KitGuard.sealedBytesPerCandidate)
        let sealed = #"{"count":1,"sealed":{"v":1,"alg":"A256GCM","kid":"d.k","iv":"AAAA","ct":"\#(ciphertext)"}}"#
        #expect(await self.refusal(guardian, self.publication("client-call.ice_candidate", sealed, sender: 1), kit) == nil)
        #expect(await self.refusal(guardian, self.publication("client-call.ice_candidate", sealed, sender: 1), kit) == .rateLimited)
    }

    @Test func aFullRateTableDropsItsOldestEntriesNotEveryones() {
        let guardian = KitGuard(capacity: 16)
        let key = { (n: Int) in KitGuard.PublisherKey(app: "1", channel: "c", publisher: "\(n)") }
        // Publisher 0 spends its whole burst, then 16 newer publishers fill the table within the minute.
        for _ in 0..<2 { _ = guardian.take(\.positions, key(0), count: 1, rate: 1, burst: 2, now: 0) }
        #expect(!guardian.take(\.positions, key(0), count: 1, rate: 1, burst: 2, now: 0))
        for n in 100..<115 { _ = guardian.take(\.positions, key(n), count: 1, rate: 1, burst: 2, now: 0.001 * Double(n)) }
        #expect(!guardian.take(\.positions, key(0), count: 1, rate: 1, burst: 2, now: 0.2))
        #expect(guardian.take(\.positions, key(999), count: 1, rate: 1, burst: 2, now: 0.3), "a new publisher gets a place")
        #expect(!guardian.take(\.positions, key(0), count: 1, rate: 1, burst: 2, now: 0.35), "still refused: its bucket was kept")
    }

    @Test func encryptedRoomsAcceptOnlyEnvelopes() async {
        let guardian = KitGuard()
        let kit = KitRule(kind: .chat, encrypted: true)
        let sealed = #"{"message_id":"m","body":{"v":1,"alg":"A256GCM","kid":"d.k","iv":"AAAA","ct":"Zm9v"}}"#
        #expect(await self.refusal(guardian, self.publication("client-chat.message", sealed), kit) == nil)
        for clear in [#"{"message_id":"m","body":"hi"}"#, #"{"message_id":"m"}"#, #"{"text":"hi"}"#, #""hi""#, "[1]"] {
            #expect(await self.refusal(guardian, self.publication("client-chat.message", clear), kit) == .plaintextRefused, "\(clear)")
        }
        #expect(await self.refusal(guardian, self.publication("client-chat.typing", #"{"is_typing":true}"#), kit) == nil)
    }

    @Test func aSignedInMemberMayNotWriteAsAnotherUserInChatOrCalls() async {
        let guardian = KitGuard()
        for kit in [KitRule(kind: .chat), KitRule(kind: .calls)] {
            let as42 = { (json: String) in self.publication("client-chat.message", json, user: "42") }
            #expect(await self.refusal(guardian, as42(#"{"user_id":"7","body":"hi"}"#), kit) == .identityMismatch)
            #expect(await self.refusal(guardian, as42(#"{"user_id":null}"#), kit) == .identityMismatch)
            #expect(await self.refusal(guardian, as42(#"{"user_id":42.5}"#), kit) == .identityMismatch)
            #expect(await self.refusal(guardian, as42(#"{"user_id":"42","body":"hi"}"#), kit) == nil)
            #expect(await self.refusal(guardian, as42(#"{"user_id":42}"#), kit) == nil)
            #expect(await self.refusal(guardian, as42(#"{"body":"hi"}"#), kit) == nil)
            // No user known (a Pusher member of a private channel), or the app's own server: not checked.
            #expect(await self.refusal(guardian, self.publication("client-chat.message", #"{"user_id":"7"}"#), kit) == nil)
            #expect(await self.refusal(guardian, as42(#"{"user_id":"7"}"#), kit, byServer: true) == nil)
        }
        #expect(await self.refusal(guardian, self.publication("x", #"{"user_id":"7"}"#, user: "42"), KitRule(kind: .location)) == nil)
    }

    @Test func positionsAreCheckedAndLimitedPerPublisher() async {
        let guardian = KitGuard()
        let kit = KitRule(kind: .location, locationUpdatesPerSecond: 1)
        let here = #"{"lat":1.5,"lon":-3}"#
        #expect(await self.refusal(guardian, self.publication("client-location.update", here), kit) == nil)
        #expect(await self.refusal(guardian, self.publication("client-location.update", here), kit) == nil)
        #expect(await self.refusal(guardian, self.publication("client-location.update", here), kit) == .rateLimited)
        #expect(await self.refusal(guardian, self.publication("client-location.update", here), kit, now: 1.1) == nil)
        #expect(await self.refusal(guardian, self.publication("client-location.update", #"{"lat":91,"lon":0}"#, sender: 9), kit) == .invalidPayload)
        #expect(await self.refusal(guardian, self.publication("client-location.ended", "{}"), kit) == nil)
    }

    @Test func deliveryStatusFollowsTheTableFromTheKeptTimelineOrARecentAdmission() async throws {
        let guardian = KitGuard()
        let kit = KitRule(kind: .delivery)
        let status = { (name: String) in self.publication("delivery.status", "{\"status\":\"\(name)\"}", sender: nil) }
        try await guardian.admit(status("in_transit"), kit: kit, now: 10) { DeliveryState(timeline: [.pickup]) }
        // Not kept yet (nil), but admitted a moment ago on this node: delivered may follow in_transit, then nothing but support.
        try await guardian.admit(status("delivered"), kit: kit, now: 10.5) { DeliveryState() }
        #expect(await self.refusal(guardian, status("in_transit"), kit, now: 11) == .invalidTransition)
        #expect(await self.refusal(guardian, status("lost"), kit, now: 11) == .invalidPayload)
        #expect(guardian.deliveryStatus(app: "1", channel: "private-x") == .delivered)
        // Later, the kept timeline (which other nodes write too) is what counts.
        try await guardian.admit(status("in_transit"), kit: kit, now: 20) { DeliveryState(timeline: [.nearby]) }
        do {
            try await guardian.admit(status("pickup"), kit: kit, now: 30) { DeliveryState(timeline: [.delivered]) }
            Issue.record("pickup after delivered was admitted")
        } catch {
            #expect(error == .kitRefused(KitRefusal(.invalidTransition, "a delivery cannot go to pickup from delivered (allowed: support_needed)")))
        }
    }

    @Test func aSubscriberCannotUndoDeliveredThroughASupportRequestWhileTheServerCan() async {
        let guardian = KitGuard()
        let kit = KitRule(kind: .delivery)
        let status = { (name: String) in self.publication("client-delivery.status", "{\"status\":\"\(name)\"}", sender: 7) }
        let kept = DeliveryState(timeline: [.pickup, .inTransit, .delivered, .supportNeeded])
        #expect(await self.refusal(guardian, status("in_transit"), kit, now: 100, kept: kept) == .invalidTransition)
        #expect(await self.refusal(guardian, status("pickup"), kit, now: 200, kept: kept) == .invalidTransition)
        #expect(await self.refusal(guardian, status("delivered"), kit, now: 300, kept: kept) == nil)
        #expect(await self.refusal(guardian, status("pickup"), kit, now: 400, byServer: true, kept: kept) == nil)
    }
}
