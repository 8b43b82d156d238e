import SwitchboardCore
import Testing

@Suite("Throughput")
struct ThroughputTests {
    @Test func ratesAreTheChangeSinceTheOldestSampleInTheWindow() {
        let stats = BusStats()
        let meter = Throughput(windowMilliseconds: 10_000)
        #expect(meter.rates(stats, now: 0) == .init(messagesIn: 0, messagesOut: 0))
        meter.sample(stats, now: 0)
        for _ in 0..<20 { stats.countPublished() }
        stats.countDelivered(200)
        #expect(meter.rates(stats, now: 2_000) == .init(messagesIn: 10, messagesOut: 100))
    }

    @Test func samplesOlderThanTheWindowAreForgotten() {
        let stats = BusStats()
        let meter = Throughput(windowMilliseconds: 10_000)
        meter.sample(stats, now: 0)
        for _ in 0..<100 { stats.countPublished() }
        meter.sample(stats, now: 5_000)
        meter.sample(stats, now: 16_000)
        // The sample at 0 s is gone; from 5 s to 20 s nothing more was published.
        #expect(meter.rates(stats, now: 20_000).messagesIn == 0)
    }
}
