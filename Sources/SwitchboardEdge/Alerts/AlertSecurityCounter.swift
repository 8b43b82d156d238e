import SwitchboardCore
import Synchronization

/// Counts the security events each `security_events` rule watches, in one-second buckets over the rule's window.
///
/// It sits beside `MetricsSecuritySink` in the gate's fan-out, before the per-address budget, so a burst is counted
/// whole even when most of its events are not stored. Only rules' kinds (and apps) are counted: memory is bounded by
/// the rules and their windows (at most 100 × 3600 buckets), never by what clients send.
final class AlertSecurityCounter: SecurityEventSink {
    struct Watch: Sendable {
        var kind: SecurityEvent.Kind
        var app: String?
        var windowSeconds: Int
        /// Per second of the window: the second (since the epoch) the bucket holds, and its count.
        var buckets: [(second: Int64, count: Int64)]
    }

    private let watches = Mutex<[String: Watch]>([:])
    private let clock: @Sendable () -> Int64

    /// Creates a counter reading the wall clock in milliseconds (tests pass their own).
    init(clock: @escaping @Sendable () -> Int64 = { WallClock.milliseconds() }) {
        self.clock = clock
    }

    /// Watches what `rules` need; counts of rules that keep their name, kind, app and window are kept.
    func configure(_ rules: [AlertRule]) {
        self.watches.withLock { watches in
            var next: [String: Watch] = [:]
            for rule in rules where rule.kind == .securityEvents {
                guard let kind = rule.event else { continue }
                if let old = watches[rule.name], old.kind == kind, old.app == rule.app, old.windowSeconds == rule.windowSeconds {
                    next[rule.name] = old
                } else {
                    let empty = [(second: Int64, count: Int64)](repeating: (-1, 0), count: rule.windowSeconds)
                    next[rule.name] = Watch(kind: kind, app: rule.app, windowSeconds: rule.windowSeconds, buckets: empty)
                }
            }
            watches = next
        }
    }

    func record(_ event: SecurityEvent) {
        let second = self.clock() / 1000
        self.watches.withLock { watches in
            for name in watches.keys {
                guard watches[name]!.kind == event.kind, watches[name]!.app == nil || watches[name]!.app == event.app else { continue }
                let index = Int(second % Int64(watches[name]!.windowSeconds))
                if watches[name]!.buckets[index].second != second { watches[name]!.buckets[index] = (second, 0) }
                watches[name]!.buckets[index].count += 1
            }
        }
    }

    /// Events counted for `rule` in its window ending at `now` (milliseconds).
    func count(rule: String, now: Int64) -> Int64 {
        let second = now / 1000
        return self.watches.withLock { watches in
            guard let watch = watches[rule] else { return 0 }
            let oldest = second - Int64(watch.windowSeconds)
            return watch.buckets.reduce(0) { $0 + ($1.second > oldest && $1.second <= second ? $1.count : 0) }
        }
    }
}
