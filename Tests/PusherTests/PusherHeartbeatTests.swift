import Pusher
import Testing

/// The keepalive state machine, driven by hand-picked times.
@Suite struct PusherHeartbeatTests {
    @Test func silenceBringsAPingThenAClose() {
        var heartbeat = PusherHeartbeat(activityTimeout: 120_000, pongTimeout: 30_000, now: 0)
        #expect(heartbeat.poll(now: 1_000, subscribed: true) == .wait(until: 120_000))
        #expect(heartbeat.poll(now: 120_000, subscribed: true) == .ping(thenWaitUntil: 150_000))
        #expect(heartbeat.poll(now: 149_999, subscribed: true) == .wait(until: 150_000))
        #expect(heartbeat.poll(now: 150_000, subscribed: true) == .close(.pongNotReceived))
    }

    @Test func anyFrameCountsAsAnAnswer() {
        var heartbeat = PusherHeartbeat(activityTimeout: 120_000, pongTimeout: 30_000, now: 0)
        _ = heartbeat.poll(now: 120_000, subscribed: true)
        heartbeat.heard(at: 125_000, useful: false)
        #expect(heartbeat.poll(now: 150_000, subscribed: true) == .wait(until: 245_000))
    }

    @Test func activityPostponesThePing() {
        var heartbeat = PusherHeartbeat(activityTimeout: 10_000, pongTimeout: 5_000, now: 0)
        heartbeat.heard(at: 9_000, useful: true)
        #expect(heartbeat.poll(now: 10_000, subscribed: true) == .wait(until: 19_000))
    }

    @Test func anIdleConnectionWithoutSubscriptionsIsClosed() {
        var heartbeat = PusherHeartbeat(activityTimeout: 10_000, pongTimeout: 5_000, idleLimit: 60_000, now: 0)
        for second in stride(from: 10_000, to: 60_000, by: 10_000) {
            _ = heartbeat.poll(now: Int64(second), subscribed: false)
            heartbeat.heard(at: Int64(second + 1), useful: false)
        }
        #expect(heartbeat.poll(now: 60_000, subscribed: false) == .close(.closedAfterInactivity))
        // A subscribed connection that only keeps alive stays.
        var subscribed = PusherHeartbeat(activityTimeout: 10_000, pongTimeout: 5_000, idleLimit: 60_000, now: 0)
        subscribed.heard(at: 59_000, useful: false)
        #expect(subscribed.poll(now: 60_000, subscribed: true) == .wait(until: 69_000))
    }
}
