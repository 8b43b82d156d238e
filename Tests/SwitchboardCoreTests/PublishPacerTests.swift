import Synchronization
import Testing

@testable import SwitchboardCore

/// A backlog whose lag the test sets.
private final class SetBacklog: WriteBacklog {
    let value: Mutex<Duration>
    let pass: Mutex<Duration>
    init(_ lag: Duration, pass: Duration = .zero) {
        self.value = Mutex(lag)
        self.pass = Mutex(pass)
    }
    func lag() -> Duration { self.value.withLock { $0 } }
    func set(_ lag: Duration) { self.value.withLock { $0 = lag } }
    func passTime() -> Duration { self.pass.withLock { $0 } }
}

/// A backlog that lags a minute and counts how often it is read.
private final class CountedBacklog: WriteBacklog {
    let reads = Atomic<Int>(0)
    func lag() -> Duration {
        self.reads.add(1, ordering: .relaxed)
        return .seconds(60)
    }
}

/// A backlog that tells its listeners only when the test says its lag fell, and counts how often it is asked to.
private final class SignalledBacklog: WriteBacklog {
    let value: Mutex<Duration>
    let listeners = Mutex<[@Sendable () -> Void]>([])
    let requestCount = Atomic<Int>(0)
    var requests: Int { self.requestCount.load(ordering: .relaxed) }
    init(_ lag: Duration) { self.value = Mutex(lag) }
    func lag() -> Duration { self.value.withLock { $0 } }
    func set(_ lag: Duration) { self.value.withLock { $0 = lag } }

    func whenLagMayFall(_ body: @escaping @Sendable () -> Void) {
        self.requestCount.add(1, ordering: .relaxed)
        self.listeners.withLock { $0.append(body) }
    }

    /// Sets the lag and tells those listening, as a loop does when it finishes a batch.
    func fall(to lag: Duration) {
        self.set(lag)
        let called = self.listeners.withLock { listeners in
            defer { listeners.removeAll() }
            return listeners
        }
        for body in called { body() }
    }
}

/// Set once a held publish went on.
private final class Released: Sendable {
    let value = Atomic<Bool>(false)
    var isSet: Bool { self.value.load(ordering: .relaxed) }
    func set() { self.value.store(true, ordering: .relaxed) }
}

@Suite struct PublishPacerTests {
    private func elapsed(_ work: () async throws -> Void) async rethrows -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        try await work()
        return clock.now - start
    }

    @Test func aPublishGoesOnAtOnceWhileWritesKeepUp() async {
        let pacer = PublishPacer(backlog: SetBacklog(.milliseconds(10)), limit: .milliseconds(40), maxWait: .seconds(5))
        #expect(await self.elapsed { await pacer.pace() } < .milliseconds(500))
    }

    @Test func aPublishWaitsWhileWritesLagAndGoesOnOnceTheyCatchUp() async {
        let backlog = SetBacklog(.seconds(1))
        let pacer = PublishPacer(backlog: backlog, limit: .milliseconds(40), maxWait: .seconds(60))
        let catchUp = Task {
            try await Task.sleep(for: .milliseconds(150))
            backlog.set(.zero)
        }
        let waited = await self.elapsed { await pacer.pace() }
        #expect(waited >= .milliseconds(150))
        // Well before `maxWait`, with room for a test run that starves the cooperative pool for seconds on two cores.
        #expect(waited < .seconds(30))
        _ = try? await catchUp.value
    }

    @Test func aStuckWriterHoldsAPublishNoLongerThanMaxWait() async {
        let pacer = PublishPacer(backlog: SetBacklog(.seconds(60)), limit: .milliseconds(40), maxWait: .milliseconds(200))
        let waited = await self.elapsed { await pacer.pace() }
        #expect(waited >= .milliseconds(200))
        #expect(waited < .seconds(30))
    }

    @Test func theLimitIsReadAtEachPublishAndZeroNeverWaits() async {
        let limits = LiveLimits(.init(publishLagMilliseconds: 0))
        let pacer = PublishPacer(backlog: SetBacklog(.seconds(60)), maxWait: .milliseconds(200)) {
            .milliseconds(limits.current.publishLagMilliseconds)
        }
        #expect(await self.elapsed { await pacer.pace() } < .milliseconds(150))
        limits.replace(.init(publishLagMilliseconds: 40))
        #expect(await self.elapsed { await pacer.pace() } >= .milliseconds(200))
    }

    @Test func theBusAnswersAPublishOnlyOnceItsPacerLetsItGo() async throws {
        let app = testApp()
        let pacer = PublishPacer(backlog: SetBacklog(.seconds(60)), limit: .milliseconds(40), maxWait: .milliseconds(200))
        let bus = Bus(engine: MemoryEngine(), apps: AppRegistry(apps: [app]), pacer: pacer)
        let waited = try await self.elapsed {
            _ = try await bus.publish(publication("room"), app: app)
        }
        #expect(waited >= .milliseconds(200))
    }

    @Test func manyHeldPublishesShareOneReadOfTheLagPerTick() async {
        let backlog = CountedBacklog()
        let pacer = PublishPacer(backlog: backlog, limit: .milliseconds(40), maxWait: .milliseconds(100))
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<200 { group.addTask { await pacer.pace() } }
        }
        // One read each as they arrive, then about one per millisecond; a sleeping task each would read 20,000 times.
        #expect(backlog.reads.load(ordering: .relaxed) < 1_000)
    }

    @Test func aCancelledPublishWaitsOutItsTurnWithoutSpinning() async {
        let backlog = CountedBacklog()
        let pacer = PublishPacer(backlog: backlog, limit: .milliseconds(40), maxWait: .milliseconds(150))
        let waited = await self.elapsed {
            let publish = Task { await pacer.pace() }
            publish.cancel()
            await publish.value
        }
        #expect(waited >= .milliseconds(150))
        #expect(waited < .seconds(30))
        #expect(backlog.reads.load(ordering: .relaxed) < 1_000)
    }

    @Test func heldPublishesGoOnOnceTheLimitIsTurnedOff() async {
        let limits = LiveLimits(.init(publishLagMilliseconds: 40))
        let pacer = PublishPacer(backlog: SetBacklog(.seconds(60)), maxWait: .seconds(60)) {
            .milliseconds(limits.current.publishLagMilliseconds)
        }
        let turnOff = Task {
            try await Task.sleep(for: .milliseconds(100))
            limits.replace(.init(publishLagMilliseconds: 0))
        }
        let waited = await self.elapsed { await pacer.pace() }
        #expect(waited >= .milliseconds(100))
        #expect(waited < .seconds(30))
        _ = try? await turnOff.value
    }

    @Test func aHeldPublishIsLookedAtWhenTheBacklogSaysItsLagFellNotOnAClock() async throws {
        let backlog = SignalledBacklog(.seconds(1))
        let pacer = PublishPacer(backlog: backlog, limit: .milliseconds(40), maxWait: .seconds(60))
        let released = Released()
        let waited = try await self.elapsed {
            let publish = Task {
                await pacer.pace()
                released.set()
            }
            try await Self.until { backlog.requests > 0 }
            // The lag falls without a word: a pacer that read it on a clock would let the publish go within a tick.
            backlog.set(.zero)
            try await Task.sleep(for: .milliseconds(150))
            #expect(!released.isSet)
            backlog.fall(to: .zero)
            await publish.value
        }
        #expect(released.isSet)
        #expect(waited < .seconds(30))
    }

    @Test func manyHeldPublishesAskTheBacklogOnceAndAllGoOnWhenItsLagFalls() async throws {
        let backlog = SignalledBacklog(.seconds(1))
        let pacer = PublishPacer(backlog: backlog, limit: .milliseconds(40), maxWait: .seconds(60))
        let waited = try await self.elapsed {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<200 { group.addTask { await pacer.pace() } }
                try await Self.until { backlog.requests > 0 }
                try await Task.sleep(for: .milliseconds(100))
                #expect(backlog.requests == 1)
                backlog.fall(to: .zero)
                try await group.waitForAll()
            }
        }
        #expect(waited < .seconds(30))
    }

    @Test func aFallThatLeavesTheLagTooLongKeepsThePublishHeldAndListening() async throws {
        let backlog = SignalledBacklog(.seconds(1))
        let pacer = PublishPacer(backlog: backlog, limit: .milliseconds(40), maxWait: .seconds(60))
        let released = Released()
        let publish = Task {
            await pacer.pace()
            released.set()
        }
        try await Self.until { backlog.requests > 0 }
        backlog.fall(to: .milliseconds(500))
        try await Task.sleep(for: .milliseconds(50))
        #expect(!released.isSet)
        #expect(backlog.requests == 2)
        backlog.fall(to: .milliseconds(10))
        await publish.value
        #expect(released.isSet)
    }

    @Test func onceOnePassOfWritesOutlastsTheLimitAPublishGoesOnOnlyWithinATenthOfIt() async {
        let short = PublishPacer(
            backlog: SetBacklog(.milliseconds(10), pass: .milliseconds(30)),
            limit: .milliseconds(40),
            maxWait: .milliseconds(200)
        )
        #expect(await self.elapsed { await short.pace() } < .milliseconds(150))
        // The same lag, behind a fan-out whose passes take longer than the limit: a publish now would miss the
        // connections already written.
        let long = PublishPacer(
            backlog: SetBacklog(.milliseconds(10), pass: .milliseconds(100)),
            limit: .milliseconds(40),
            maxWait: .milliseconds(200)
        )
        #expect(await self.elapsed { await long.pace() } >= .milliseconds(200))
        let nearTheStart = PublishPacer(
            backlog: SetBacklog(.milliseconds(3), pass: .milliseconds(100)),
            limit: .milliseconds(40),
            maxWait: .milliseconds(200)
        )
        #expect(await self.elapsed { await nearTheStart.pace() } < .milliseconds(150))
    }

    /// Waits until `condition` holds, for ten seconds at most.
    private static func until(_ condition: () -> Bool) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while !condition() {
            guard clock.now < deadline else {
                Issue.record("timed out")
                return
            }
            try await Task.sleep(for: .milliseconds(2))
        }
    }
}
