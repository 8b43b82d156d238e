import Logging
import SwitchboardCore
import Testing

@testable import SwitchboardAdapterKit

@Suite struct LiveConnectionLimitTests {
    @Test func newConnectionsPerAddressFollowTheReloadedLimit() {
        let live = LiveLimits(LiveLimits.Values(newConnectionsPerIPPerSecond: 2))
        let limiter = ConnectionRateLimiter(live: live, now: { 10 })
        #expect(limiter.allow("192.0.2.1") && limiter.allow("192.0.2.1") && !limiter.allow("192.0.2.1"))
        live.replace(LiveLimits.Values(newConnectionsPerIPPerSecond: 0))
        for _ in 0..<20 { #expect(limiter.allow("192.0.2.1")) }
        live.replace(LiveLimits.Values(newConnectionsPerIPPerSecond: 1))
        #expect(limiter.perSecond == 1)
        #expect(limiter.allow("192.0.2.2") && !limiter.allow("192.0.2.2"))
    }

    @Test func theEnvironmentReadsTheQueueAndClientLimitsInForce() {
        let live = LiveLimits()
        let apps = AppRegistry(apps: [])
        let bus = Bus(engine: MemoryEngine(), apps: apps)
        let environment = AdapterEnvironment(
            bus: bus,
            gate: Gate(apps: apps, security: MemorySecurityLog(), limits: live),
            connections: ConnectionCounter(),
            logger: Logger(label: "test"),
            limits: live
        )
        #expect(environment.maxQueuedFrames == 4096)
        var client = ClientLimits()
        client.maxQueuedBytes = 65_536
        live.replace(LiveLimits.Values(client: client, maxQueuedFrames: 32))
        #expect(environment.maxQueuedFrames == 32 && environment.clientLimits.maxQueuedBytes == 65_536)
    }

    @Test func aReloadedCompressionMinimumGetsOneSharedDeflater() {
        let live = LiveLimits()
        let started = FrameDeflater(minBytes: 256)
        let deflaters = ReloadedDeflater()
        #expect(deflaters.deflater(replacing: started, minBytes: 256) === started)
        live.replace(LiveLimits.Values(maxQueuedFrames: 32, compressionMinBytes: 1024))
        let reloaded = deflaters.deflater(replacing: started, minBytes: live.current.compressionMinBytes)
        #expect(reloaded !== started && reloaded.minBytes == 1024)
        // Shared by every connection opened after the reload, so the hub still compresses a broadcast once.
        #expect(deflaters.deflater(replacing: started, minBytes: 1024) === reloaded)
    }
}
