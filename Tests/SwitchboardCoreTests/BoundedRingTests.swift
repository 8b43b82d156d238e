import Testing

@testable import SwitchboardCore

@Suite struct BoundedRingTests {
    @Test func keepsTheNewestAndReturnsWhatItOverwrites() {
        var ring = BoundedRing<Int>(capacity: 3)
        #expect(ring.append(1) == nil)
        #expect(ring.append(2) == nil)
        #expect(ring.append(3) == nil)
        #expect(ring.append(4) == 1)
        #expect(ring.append(5) == 2)
        #expect(ring.oldestFirst == [3, 4, 5])
        #expect(Array(ring.newestFirst) == [5, 4, 3])
        #expect(ring.count == 3)
    }

    @Test func removeAllEmptiesItForReuse() {
        var ring = BoundedRing<Int>(capacity: 4)
        for n in 0..<10 { ring.append(n) }
        #expect(ring.removeAll() == [6, 7, 8, 9])
        #expect(ring.count == 0)
        #expect(ring.oldestFirst.isEmpty)
        ring.append(42)
        ring.append(43)
        #expect(ring.oldestFirst == [42, 43])
    }

    @Test func aLongRunStaysInOrder() {
        var ring = BoundedRing<Int>(capacity: 1000)
        for n in 0..<1_000_000 { ring.append(n) }
        #expect(ring.oldestFirst == Array(999_000..<1_000_000))
    }

    @Test func memoryLogAnswersNewestFirstWithinItsCapacity() {
        let log = MemorySecurityLog(capacity: 100)
        for n in 0..<250 {
            log.record(SecurityEvent(time: Int64(n), app: n.isMultiple(of: 2) ? "even" : "odd", kind: .badRequest, detail: "e\(n)"))
        }
        #expect(log.count == 100)
        #expect(log.events(.init(limit: 3)).map(\.detail) == ["e249", "e248", "e247"])
        #expect(log.events(.init(app: "even", limit: 2)).map(\.detail) == ["e248", "e246"])
        #expect(log.events(.init(limit: 1000)).last?.detail == "e150")
    }
}
