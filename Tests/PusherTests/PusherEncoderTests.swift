import NIOCore
import Pusher
import SwitchboardAdapterKit
import SwitchboardCore
import Testing

/// Bus messages as Pusher frames.
@Suite struct PusherEncoderTests {
    let encoder = PusherEncoder()

    func publication(_ channel: String, event: String?, data: String, userID: String? = nil) -> BusMessage {
        .publication(Publication(app: "1", channel: channel, event: event, data: ByteBuffer(string: data), userID: userID, timestamp: 1))
    }

    func presence(_ channel: String, _ kind: PresenceChange.Kind, metadata: String = #"{"name":"Ann"}"#) -> BusMessage {
        .presence(
            PresenceChange(
                app: "1",
                channel: channel,
                kind: kind,
                member: PresenceMember(userID: "u1", metadata: ByteBuffer(string: metadata), lastSeen: 1),
                timestamp: 1
            )
        )
    }

    func text(_ message: BusMessage) -> String? { self.encoder.frame(for: message).map { String(buffer: $0) } }

    @Test func aNamedEventCarriesItsDataAsAString() {
        #expect(
            self.text(self.publication("chat", event: "greet", data: #"{"text":"hi"}"#))
                == #"{"event":"greet","channel":"chat","data":"{\"text\":\"hi\"}"}"#
        )
    }

    @Test func anUnnamedMessageIsEventMessage() {
        #expect(self.text(self.publication("chat", event: nil, data: #""plain""#)) == #"{"event":"message","channel":"chat","data":"plain"}"#)
    }

    @Test func theUserIDTravels() {
        #expect(
            self.text(self.publication("presence-room", event: "client-typing", data: "{}", userID: "u7"))
                == #"{"event":"client-typing","channel":"presence-room","data":"{}","user_id":"u7"}"#
        )
    }

    @Test func eventsNamedInTheProtocolsNamespacesAreNotShown() {
        #expect(self.text(self.publication("chat", event: "pusher_internal:member_added", data: "{}")) == nil)
        #expect(self.text(self.publication("chat", event: "pusher:subscription_error", data: "{}")) == nil)
        #expect(self.text(self.publication("chat", event: "pusher-notification", data: "{}")) != nil)
    }

    @Test func presenceJoinsAndLeavesBecomeMemberEvents() {
        #expect(
            self.text(self.presence("presence-room", .join))
                == #"{"event":"pusher_internal:member_added","channel":"presence-room","data":"{\"user_id\":\"u1\",\"user_info\":{\"name\":\"Ann\"}}"}"#
        )
        #expect(
            self.text(self.presence("presence-room", .leave))
                == #"{"event":"pusher_internal:member_removed","channel":"presence-room","data":"{\"user_id\":\"u1\"}"}"#
        )
    }

    @Test func aUsersOnlineStatusBecomesWatchlistEventsWithoutAChannel() {
        #expect(
            self.text(self.presence("#online-u1", .join))
                == #"{"event":"pusher_internal:watchlist_events","data":"{\"events\":[{\"name\":\"online\",\"user_ids\":[\"u1\"]}]}"}"#
        )
        #expect(
            self.text(self.presence("#online-u1", .leave))
                == #"{"event":"pusher_internal:watchlist_events","data":"{\"events\":[{\"name\":\"offline\",\"user_ids\":[\"u1\"]}]}"}"#
        )
        #expect(self.text(self.presence("#online-u1", .update)) == nil)
    }

    @Test func updatesAndNonPresenceChannelsAreNotShown() {
        #expect(self.text(self.presence("presence-room", .update)) == nil)
        #expect(self.text(self.presence("chat", .join)) == nil)
    }

    @Test func repliesHaveTheShapesClientsRead() throws {
        let established = try JSONObject(parsing: PusherReply.connectionEstablished(socketID: "12.345", activityTimeout: 120))
        #expect(established.string("event") == "pusher:connection_established")
        let inner = try JSONObject(parsing: ByteBuffer(string: try #require(established.string("data"))))
        #expect(inner.string("socket_id") == "12.345")
        #expect(inner.integer("activity_timeout") == 120)

        let error = try JSONObject(parsing: PusherReply.error(.unauthorized, "nope", channel: "private-a"))
        #expect(error.object("data")?.integer("code") == 4009)
        #expect(error.string("channel") == "private-a")

        let members = [
            PresenceMember(userID: "a", metadata: ByteBuffer(string: #"{"n":1}"#), lastSeen: 0),
            PresenceMember(userID: "b", metadata: ByteBuffer(string: "null"), lastSeen: 0),
        ]
        let succeeded = try JSONObject(parsing: PusherReply.presenceSubscriptionSucceeded(channel: "presence-x", members: members))
        #expect(succeeded.string("data") == #"{"presence":{"ids":["a","b"],"hash":{"a":{"n":1},"b":null},"count":2}}"#)
        #expect(
            String(buffer: PusherReply.subscriptionCount(channel: "c", count: 3))
                == #"{"event":"pusher_internal:subscription_count","channel":"c","data":"{\"subscription_count\":3}"}"#
        )
        #expect(String(buffer: PusherReply.cacheMiss(channel: "cache-a")) == #"{"event":"pusher:cache_miss","channel":"cache-a"}"#)
    }

    @Test func errorCodesSayWhetherTheyClose() {
        #expect(PusherErrorCode.appDoesNotExist.closesConnection)
        #expect(PusherErrorCode.pongNotReceived.closesConnection)
        #expect(!PusherErrorCode.clientEventRateLimit.closesConnection)
        #expect(PusherErrorCode.overCapacity.code == 4100)
    }
}
