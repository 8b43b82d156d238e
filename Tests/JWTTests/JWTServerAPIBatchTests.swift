import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore
import Testing

@testable import JWT

/// The server API's `POST /api/batch` and `skip_history`, as `cent` sends them and Centrifugo answers them.
@Suite struct JWTServerAPIBatchTests {
    func body(_ text: String) throws -> JSONObject { try JSONObject(parsing: ByteBuffer(string: text)) }

    func api(_ h: Harness) -> JWTServerAPI { JWTServerAPI(environment: h.environment, registry: h.registry) }

    /// Runs `text` as a batch body against `h` and returns the parsed `{"replies": [...]}`, one object per reply.
    func replies(_ text: String, _ h: Harness) async throws -> [JSONObject] {
        let batch = try JWTServerBatch(parsing: try self.body(text), methods: Set(JWTServerAPI.methods))
        let replies = await self.api(h).replies(batch, app: h.app)
        let written = try JSONObject(parsing: JWTServerBatch.write(replies))
        #expect(written.keys == ["replies"])
        let raw = try #require(written.raw("replies"))
        return try #require(JSONArrayElements.split(raw)).map { try JSONObject(parsing: $0) }
    }

    func refusal(_ text: String) throws -> JWTServerAPI.Failure? {
        let body = try self.body(text)
        do {
            _ = try JWTServerBatch(parsing: body, methods: Set(JWTServerAPI.methods))
            return nil
        } catch {
            return error
        }
    }

    @Test func eachCommandIsAnsweredUnderItsMethodNameInCommandOrder() async throws {
        let h = Harness()
        let replies = try await self.replies(
            #"{"commands":[{"publish":{"channel":"a","data":1}},{"publish":{"channel":"a","data":2}},{"history":{"channel":"a","limit":10}}],"parallel":false}"#,
            h
        )
        #expect(replies.map(\.keys) == [["publish"], ["publish"], ["history"]])
        #expect(replies.compactMap { $0.object("publish")?.integer("offset") } == [1, 2])
        let history = try #require(replies[2].object("history"))
        #expect(history.integer("offset") == 2)
    }

    @Test func aBadCommandGetsItsOwnErrorAndTheOthersRun() async throws {
        let h = Harness()
        let replies = try await self.replies(
            #"{"commands":[{"publish":{"channel":"a","data":1}},{"publish":{"channel":"bad name","data":2}},{"publish":{"channel":"a","data":3}}]}"#,
            h
        )
        #expect(replies[0].object("publish")?.integer("offset") == 1)
        #expect(replies[1].keys == ["error"] && replies[1].errorCode == 107)
        #expect(replies[2].object("publish")?.integer("offset") == 2)
    }

    @Test func anUnknownMethodANestedBatchAndAnEmptyCommandAre104() async throws {
        let h = Harness()
        let replies = try await self.replies(#"{"commands":[{"frobnicate":{}},{"batch":{"commands":[]}},{}]}"#, h)
        #expect(replies.map(\.errorCode) == [104, 104, 104])
    }

    @Test func aCommandThatIsNotAnObjectOrHasANonObjectBodyIs107() async throws {
        let h = Harness()
        let replies = try await self.replies(#"{"commands":[3,{"publish":"x"},{"info":{}}]}"#, h)
        #expect(replies[0].errorCode == 107 && replies[1].errorCode == 107)
        #expect(replies[2].object("info") != nil)
    }

    @Test func aParallelBatchStillAnswersInCommandOrder() async throws {
        let h = Harness()
        let commands = (0..<40).map { #"{"publish":{"channel":"p\#($0)","data":\#($0)}}"# }.joined(separator: ",")
        let replies = try await self.replies(#"{"commands":[\#(commands)],"parallel":true}"#, h)
        #expect(replies.count == 40)
        #expect(replies.allSatisfy { $0.object("publish")?.integer("offset") == 1 })
        for index in [0, 17, 39] {
            let kept = try await h.bus.history(app: h.app, channel: "p\(index)", after: nil, limit: nil).publications
            #expect(kept.map { String(buffer: $0.data) } == ["\(index)"])
        }
    }

    @Test func aBatchOverTheCapIsRefusedWholeWith106() throws {
        let over = Array(repeating: #"{"info":{}}"#, count: JWTServerBatch.maxCommands + 1).joined(separator: ",")
        #expect(try self.refusal(#"{"commands":[\#(over)]}"#)?.code == .limitExceeded)
        let at = Array(repeating: #"{"info":{}}"#, count: JWTServerBatch.maxCommands).joined(separator: ",")
        #expect(try self.refusal(#"{"commands":[\#(at)]}"#) == nil)
    }

    @Test func commandsThatAreNotAnArrayAre107() throws {
        #expect(try self.refusal(#"{"commands":{"publish":{}}}"#)?.code == .badRequest)
        #expect(try self.refusal(#"{"parallel":true}"#)?.code == .badRequest)
    }

    @Test func skipHistoryDeliversLiveAndKeepsNothing() async throws {
        let h = Harness()
        let watcher = try await h.connected(user: "w")
        await watcher.send(#"{"id":2,"subscribe":{"channel":"room"}}"#)
        _ = watcher.drained()
        let api = self.api(h)
        _ = try await api.run("publish", body: try self.body(#"{"channel":"room","data":{"n":1},"skip_history":true}"#), app: h.app)
        let pub = try #require(watcher.drained().first?.push?.object("pub"))
        #expect(pub.raw("data").map { String(buffer: $0) } == #"{"n":1}"#)
        #expect(try await h.bus.history(app: h.app, channel: "room", after: nil, limit: nil).publications.isEmpty)
        _ = try await api.run("publish", body: try self.body(#"{"channel":"room","data":{"n":2},"skip_history":false}"#), app: h.app)
        #expect(try await h.bus.history(app: h.app, channel: "room", after: nil, limit: nil).publications.count == 1)
    }

    @Test func broadcastWithSkipHistoryKeepsNothingOnAnyChannel() async throws {
        let h = Harness()
        let body = try self.body(#"{"channels":["b1","b2"],"data":1,"skip_history":true}"#)
        let result = try JSONObject(parsing: try await self.api(h).run("broadcast", body: body, app: h.app))
        #expect(result.raw("responses").map { String(buffer: $0) } == #"[{"result":{}},{"result":{}}]"#)
        for channel in ["b1", "b2"] {
            #expect(try await h.bus.history(app: h.app, channel: channel, after: nil, limit: nil).publications.isEmpty)
        }
    }

    @Test func broadcastToNoChannelIs107AloneAndInABatch() async throws {
        let h = Harness()
        let body = try self.body(#"{"channels":[],"data":1}"#)
        await #expect(throws: JWTServerAPI.Failure.self) { _ = try await self.api(h).run("broadcast", body: body, app: h.app) }
        let replies = try await self.replies(#"{"commands":[{"broadcast":{"channels":[],"data":1}}]}"#, h)
        #expect(replies.map(\.errorCode) == [107])
    }

    @Test func skipHistoryIsRefusedOnDeliveryChannelsWhoseTimelineIsWhatIsKept() async throws {
        var delivery = ChannelRule(match: "order-*")
        delivery.kit = KitRule(kind: .delivery)
        let h = Harness(rules: [delivery])
        let body = try self.body(#"{"channel":"order-1","data":{"status":"placed"},"skip_history":true}"#)
        await #expect(throws: JWTServerAPI.Failure.self) { _ = try await self.api(h).run("publish", body: body, app: h.app) }
        #expect(try await h.bus.history(app: h.app, channel: "order-1", after: nil, limit: nil).publications.isEmpty)
    }
}
