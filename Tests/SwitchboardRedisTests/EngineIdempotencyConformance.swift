import NIOCore
import SwitchboardCore
import Testing

@testable import SwitchboardRedis

/// Publishing with an idempotency key (Centrifugo's `idempotency_key`), the same on every engine.
@Suite("Engine conformance: idempotency keys")
struct EngineIdempotencyConformanceTests {
    let key = IdempotencyKey("k")!

    @Test(arguments: EngineFactory.all)
    func aRetryWithTheSameKeyGetsTheFirstPositionAndIsNeitherDeliveredNorKept(factory: EngineFactory) async throws {
        try await factory.run { engine in
            let recorder = try await Recorder.listening(to: "room", on: engine)
            let first = try await engine.publish(message("room", "1"), history: keepTen, idempotencyKey: self.key)
            let retry = try await engine.publish(message("room", "1 again"), history: keepTen, idempotencyKey: self.key)
            #expect(!first.isDuplicate && retry.isDuplicate)
            #expect(first.publication.position?.offset == 1)
            #expect(retry.publication.position == first.publication.position)
            // Delivery is in publish order: once the marker is in, a delivered retry would be too.
            _ = try await engine.publish(message("room", "marker"), history: keepTen)
            try await recorder.wait(for: 2)
            #expect(recorder.publications.map { String(buffer: $0.data) } == ["1", "marker"])
            let page = try await engine.history(app: "app", channel: "room", after: nil, limit: nil, policy: keepTen)
            #expect(page.publications.map { String(buffer: $0.data) } == ["1", "marker"])
            #expect(page.latest?.offset == 2)
        }
    }

    @Test(arguments: EngineFactory.all)
    func theKeyActsPerChannelAndAnotherKeyPublishes(factory: EngineFactory) async throws {
        try await factory.run { engine in
            let first = try await engine.publish(message("a", "1"), history: keepTen, idempotencyKey: self.key)
            let otherChannel = try await engine.publish(message("b", "1"), history: keepTen, idempotencyKey: self.key)
            let otherApp = try await engine.publish(message("a", "1", app: "other"), history: keepTen, idempotencyKey: self.key)
            let otherKey = try await engine.publish(message("a", "2"), history: keepTen, idempotencyKey: IdempotencyKey("k2")!)
            #expect([first, otherChannel, otherApp, otherKey].allSatisfy { !$0.isDuplicate })
            #expect(otherChannel.publication.position?.offset == 1 && otherApp.publication.position?.offset == 1)
            #expect(otherKey.publication.position?.offset == 2)
        }
    }

    @Test(arguments: EngineFactory.all)
    func aRetryWithoutHistoryIsDroppedAndHasNoPosition(factory: EngineFactory) async throws {
        try await factory.run { engine in
            let recorder = try await Recorder.listening(to: "plain", on: engine)
            let first = try await engine.publish(message("plain", "1"), history: nil, idempotencyKey: self.key)
            let retry = try await engine.publish(message("plain", "1"), history: nil, idempotencyKey: self.key)
            #expect(!first.isDuplicate && retry.isDuplicate)
            #expect(first.publication.position == nil && retry.publication.position == nil)
            _ = try await engine.publish(message("plain", "marker"), history: nil)
            try await recorder.wait(for: 2)
            #expect(recorder.publications.map { String(buffer: $0.data) } == ["1", "marker"])
        }
    }

    @Test(arguments: EngineFactory.all)
    func concurrentRetriesOfOneKeyPublishOnce(factory: EngineFactory) async throws {
        try await factory.run { engine in
            let outcomes = try await withThrowingTaskGroup(of: IdempotentPublish.self) { group in
                for _ in 0..<20 { group.addTask { try await engine.publish(message("race", "1"), history: keepTen, idempotencyKey: self.key) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.filter { !$0.isDuplicate }.count == 1)
            #expect(Set(outcomes.map(\.publication.position)) == [StreamPosition(offset: 1, epoch: outcomes[0].publication.position?.epoch ?? "-")])
            let page = try await engine.history(app: "app", channel: "race", after: nil, limit: nil, policy: keepTen)
            #expect(page.publications.count == 1)
        }
    }

    @Test(arguments: EngineFactory.all)
    func publishingWithoutAKeyIsNeverDeduplicated(factory: EngineFactory) async throws {
        try await factory.run { engine in
            _ = try await engine.publish(message("free", "1"), history: keepTen, idempotencyKey: self.key)
            let plain = try await engine.publish(message("free", "1"), history: keepTen)
            #expect(plain.position?.offset == 2)
        }
    }
}
