import NIOCore
import SwitchboardCore
import Testing

/// The memory engine's idempotency keys: remembered for their window, and bounded per app against a flood of new keys.
@Suite struct MemoryEngineIdempotencyTests {
    let policy = HistoryPolicy(size: 10, ttlMilliseconds: 60_000)

    func publication(_ channel: String, app: String = "app", at time: Int64) -> Publication {
        Publication(app: app, channel: channel, data: ByteBuffer(string: "{}"), timestamp: time)
    }

    @Test func aKeyIsForgottenOnceItsWindowHasPassed() {
        let engine = MemoryEngine()
        let key = IdempotencyKey("k", windowMilliseconds: 1_000)!
        #expect(!engine.publish(self.publication("a", at: 10_000), history: self.policy, idempotencyKey: key).isDuplicate)
        #expect(engine.publish(self.publication("a", at: 10_999), history: self.policy, idempotencyKey: key).isDuplicate)
        let later = engine.publish(self.publication("a", at: 11_000), history: self.policy, idempotencyKey: key)
        #expect(!later.isDuplicate && later.publication.position?.offset == 2)
    }

    @Test func pastTheCapTheOldestKeyOfTheAppIsForgottenFirst() {
        let engine = MemoryEngine(maxIdempotencyKeys: 3)
        for index in 1...4 { _ = engine.publish(self.publication("a", at: 1_000), history: nil, idempotencyKey: IdempotencyKey("k\(index)")!) }
        #expect(engine.idempotencyKeyCount(app: "app") == 3)
        #expect(!engine.publish(self.publication("a", at: 1_001), history: nil, idempotencyKey: IdempotencyKey("k1")!).isDuplicate)
        #expect(engine.publish(self.publication("a", at: 1_001), history: nil, idempotencyKey: IdempotencyKey("k4")!).isDuplicate)
    }

    @Test func oneAppsFloodOfKeysLeavesAnotherAppsKeys() {
        let engine = MemoryEngine(maxIdempotencyKeys: 3)
        let kept = IdempotencyKey("mine")!
        _ = engine.publish(self.publication("a", app: "calm", at: 1_000), history: nil, idempotencyKey: kept)
        for index in 1...10 {
            _ = engine.publish(self.publication("a", app: "noisy", at: 1_000), history: nil, idempotencyKey: IdempotencyKey("n\(index)")!)
        }
        #expect(engine.idempotencyKeyCount(app: "noisy") == 3)
        #expect(engine.publish(self.publication("a", app: "calm", at: 1_001), history: nil, idempotencyKey: kept).isDuplicate)
    }

    @Test func theSweepForgetsExpiredKeys() {
        let engine = MemoryEngine()
        _ = engine.publish(self.publication("a", at: 1_000), history: nil, idempotencyKey: IdempotencyKey("k", windowMilliseconds: 500)!)
        engine.sweep(now: 1_499)
        #expect(engine.idempotencyKeyCount(app: "app") == 1)
        engine.sweep(now: 1_500)
        #expect(engine.idempotencyKeyCount(app: "app") == 0)
    }

    @Test func aKeyMustBeNonEmptyAndAtMost256Bytes() {
        #expect(IdempotencyKey("") == nil)
        #expect(IdempotencyKey(String(repeating: "x", count: 256)) != nil)
        #expect(IdempotencyKey(String(repeating: "x", count: 257)) == nil)
        #expect(IdempotencyKey(String(repeating: "é", count: 129)) == nil)
    }
}
