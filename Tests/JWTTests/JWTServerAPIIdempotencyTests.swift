import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore
import Testing

@testable import JWT

/// The server API's `idempotency_key` on publish and broadcast, as `cent` sends it and Centrifugo answers it.
@Suite struct JWTServerAPIIdempotencyTests {
    func body(_ text: String) throws -> JSONObject { try JSONObject(parsing: ByteBuffer(string: text)) }

    func run(_ method: String, _ text: String, _ h: Harness) async throws -> JSONObject {
        let api = JWTServerAPI(environment: h.environment, registry: h.registry)
        return try JSONObject(parsing: try await api.run(method, body: try self.body(text), app: h.app))
    }

    func failure(_ method: String, _ text: String, _ h: Harness) async throws -> JWTServerAPI.Failure? {
        do {
            _ = try await self.run(method, text, h)
            return nil
        } catch let failure as JWTServerAPI.Failure {
            return failure
        }
    }

    func kept(_ channel: String, _ h: Harness) async throws -> [String] {
        try await h.bus.history(app: h.app, channel: channel, after: nil, limit: nil).publications.map { String(buffer: $0.data) }
    }

    @Test func aRetriedPublishIsAnsweredWithTheFirstPositionAndDeliveredAndKeptOnce() async throws {
        let h = Harness()
        let watcher = try await h.connected(user: "w")
        await watcher.send(#"{"id":2,"subscribe":{"channel":"room"}}"#)
        _ = watcher.drained()
        let first = try await self.run("publish", #"{"channel":"room","data":{"n":1},"idempotency_key":"k"}"#, h)
        let retry = try await self.run("publish", #"{"channel":"room","data":{"n":1},"idempotency_key":"k"}"#, h)
        #expect(first.integer("offset") == 1)
        #expect(retry.integer("offset") == 1 && retry.string("epoch") == first.string("epoch"))
        #expect(watcher.drained().compactMap { $0.push?.object("pub") }.count == 1)
        #expect(try await self.kept("room", h) == [#"{"n":1}"#])
        let otherKey = try await self.run("publish", #"{"channel":"room","data":{"n":2},"idempotency_key":"k2"}"#, h)
        let noKey = try await self.run("publish", #"{"channel":"room","data":{"n":3},"idempotency_key":""}"#, h)
        #expect(otherKey.integer("offset") == 2 && noKey.integer("offset") == 3)
    }

    @Test func aBroadcastKeyActsPerChannel() async throws {
        let h = Harness()
        let first = try await self.run("broadcast", #"{"channels":["b1","b2"],"data":1,"idempotency_key":"k"}"#, h)
        let retry = try await self.run("broadcast", #"{"channels":["b1","b2","b3"],"data":1,"idempotency_key":"k"}"#, h)
        #expect(first.raw("responses").map { String(buffer: $0) }?.contains(#""offset":1"#) == true)
        let offsets = try #require(retry.raw("responses").flatMap { JSONArrayElements.split($0) }).map {
            try JSONObject(parsing: $0).object("result")?.integer("offset")
        }
        #expect(offsets == [1, 1, 1])
        for channel in ["b1", "b2", "b3"] { #expect(try await self.kept(channel, h) == ["1"]) }
        #expect(try await self.run("publish", #"{"channel":"b1","data":2,"idempotency_key":"k"}"#, h).integer("offset") == 1)
    }

    @Test func aKeyOver256BytesOrNotAStringIs107AndPublishesNothing() async throws {
        let h = Harness()
        let long = String(repeating: "x", count: 257)
        #expect(try await self.failure("publish", #"{"channel":"a","data":1,"idempotency_key":"\#(long)"}"#, h)?.code == .badRequest)
        #expect(try await self.failure("broadcast", #"{"channels":["a"],"data":1,"idempotency_key":"\#(long)"}"#, h)?.code == .badRequest)
        #expect(try await self.failure("publish", #"{"channel":"a","data":1,"idempotency_key":7}"#, h)?.code == .badRequest)
        #expect(try await self.kept("a", h).isEmpty)
        let atCap = String(repeating: "x", count: 256)
        #expect(try await self.run("publish", #"{"channel":"a","data":1,"idempotency_key":"\#(atCap)"}"#, h).integer("offset") == 1)
    }
}
