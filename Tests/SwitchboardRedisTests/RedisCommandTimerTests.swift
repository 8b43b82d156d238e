import NIOCore
import Synchronization
import Testing

@testable import SwitchboardRedis

@Suite struct RedisCommandTimerTests {
    /// Every Redis command is timed. A function kept directly as a `Mutex`'s value came back from each read wrapped in
    /// two more conversion thunks, so each call walked a chain as long as the commands before it: a node got slower with
    /// every command any client caused, and the chain's depth would end in a stack overflow.
    @Test func timingACommandCostsTheSameAfterAHundredThousandCommands() {
        let timer = RedisCommandTimer()
        let heard = Atomic<Int>(0)
        timer.observe { _ in heard.add(1, ordering: .relaxed) }
        let clock = ContinuousClock()
        let first = clock.measure { for _ in 0..<10_000 { timer.record(.milliseconds(1)) } }
        for _ in 0..<80_000 { timer.record(.milliseconds(1)) }
        let last = clock.measure { for _ in 0..<10_000 { timer.record(.milliseconds(1)) } }
        #expect(heard.load(ordering: .relaxed) == 100_000)
        #expect(last < first * 5 + .milliseconds(50), "the first 10,000 took \(first), the last \(last)")
    }

    @Test func hearingAControlNoticeCostsTheSameAfterAHundredThousandNotices() {
        let notices = RedisControlNotices(prefix: "p")
        let heard = Atomic<Int>(0)
        notices.listen { _ in heard.add(1, ordering: .relaxed) }
        let clock = ContinuousClock()
        let field = ByteBuffer(string: "live:1")
        let first = clock.measure { for _ in 0..<10_000 { notices.receive(field) } }
        for _ in 0..<80_000 { notices.receive(field) }
        let last = clock.measure { for _ in 0..<10_000 { notices.receive(field) } }
        #expect(heard.load(ordering: .relaxed) == 100_000)
        #expect(last < first * 5 + .milliseconds(50), "the first 10,000 took \(first), the last \(last)")
    }
}
