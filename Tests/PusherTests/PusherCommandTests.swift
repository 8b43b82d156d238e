import NIOCore
import Pusher
import Testing

/// Client frames parsed, and bad ones refused with a message.
@Suite struct PusherCommandTests {
    func parse(_ text: String) throws -> PusherCommand { try PusherCommand(parsing: ByteBuffer(string: text)) }

    @Test func subscribeReadsChannelAuthAndChannelData() throws {
        let command = try self.parse(
            #"{"event":"pusher:subscribe","data":{"channel":"presence-a","auth":"k:s","channel_data":"{\"user_id\":\"1\"}"}}"#
        )
        guard case .subscribe(let channel, let auth, let channelData) = command else {
            Issue.record("not a subscribe")
            return
        }
        #expect(channel == "presence-a")
        #expect(auth == "k:s")
        #expect(channelData == #"{"user_id":"1"}"#)
    }

    @Test func dataMayComeAsAString() throws {
        guard case .subscribe(let channel, nil, nil) = try self.parse(#"{"event":"pusher:subscribe","data":"{\"channel\":\"a\"}"}"#) else {
            Issue.record("not a subscribe")
            return
        }
        #expect(channel == "a")
    }

    @Test func pysherPingsWithAnEmptyString() throws {
        guard case .ping = try self.parse(#"{"event": "pusher:ping", "data": ""}"#) else {
            Issue.record("not a ping")
            return
        }
        guard case .pong = try self.parse(#"{"event":"pusher:pong","data":{}}"#) else {
            Issue.record("not a pong")
            return
        }
    }

    @Test func clientEventsKeepTheirDataInBusForm() throws {
        guard
            case .clientEvent(let event, let channel, let data, let size) = try self.parse(
                #"{"event":"client-typing","channel":"private-a","data":"{\"on\":true}"}"#
            )
        else {
            Issue.record("not a client event")
            return
        }
        #expect(event == "client-typing")
        #expect(channel == "private-a")
        #expect(String(buffer: data) == #"{"on":true}"#)
        #expect(size == 11)
        guard case .clientEvent(_, _, let object, _) = try self.parse(#"{"event":"client-x","channel":"private-a","data":{"a":1}}"#) else {
            Issue.record("not a client event")
            return
        }
        #expect(String(buffer: object) == #"{"a":1}"#)
    }

    @Test func signinNeedsAuthAndUserData() throws {
        guard case .signin(let auth, let userData) = try self.parse(#"{"event":"pusher:signin","data":{"auth":"k:s","user_data":"{\"id\":\"1\"}"}}"#)
        else {
            Issue.record("not a signin")
            return
        }
        #expect(auth == "k:s")
        #expect(userData == #"{"id":"1"}"#)
        #expect(throws: PusherCommand.Failure.self) { try self.parse(#"{"event":"pusher:signin","data":{"auth":"k:s"}}"#) }
    }

    @Test func badFramesAreRefusedWithAReason() {
        for text in [
            "not json", "[]", #"{"data":{}}"#, #"{"event":""}"#, #"{"event":"pusher:subscribe","data":{}}"#,
            #"{"event":"pusher:subscribe","data":{"channel":"a","auth":5}}"#, #"{"event":"pusher:unknown"}"#, #"{"event":"hello","channel":"a"}"#,
            #"{"event":"client-x","data":"{}"}"#, #"{"event":"client-x","channel":"private-a"}"#,
            #"{"event":"client-"# + String(repeating: "x", count: 200) + #"","channel":"private-a","data":"{}"}"#,
        ] {
            #expect(throws: PusherCommand.Failure.self, "\(text)") { try self.parse(text) }
        }
    }

    @Test func aRefusalNamesTheChannelWhenTheFrameDid() {
        do {
            _ = try PusherCommand(parsing: ByteBuffer(string: #"{"event":"hello","channel":"private-a"}"#))
            Issue.record("accepted")
        } catch {
            #expect(error.channel == "private-a")
        }
    }
}
