/// Which alert conditions are firing, and the notifications a new observation calls for: one `firing` when a
/// condition starts and one `resolved` when it ends, however many rounds it lasts.
///
/// The evaluator feeds it, once per round and rule, the subjects whose condition holds now (a rule has one subject,
/// `""`, except `usage`: one per app and level). A subject not in the round's set has ended. Pure state, no clock, no
/// I/O: the time is passed in, so tests drive it round by round.
struct AlertEpisodes: Sendable {
    /// An open episode: when it started and the value that started it.
    struct Episode: Sendable, Equatable {
        var started: Int64
        var value: Int64
        /// The latest value seen while firing (for the console).
        var latest: Int64
    }

    /// A change the evaluator must notify.
    struct Transition: Sendable, Equatable {
        enum State: String, Sendable { case firing, resolved }
        var rule: String
        var subject: String
        var state: State
        /// The value that started the episode (firing) or the last one seen while it lasted (resolved).
        var value: Int64
        var started: Int64
        /// Set when resolved.
        var ended: Int64?
    }

    private(set) var open: [String: [String: Episode]] = [:]

    /// Applies one round of `rule`: `active` maps each subject whose condition holds to its current value.
    mutating func observe(rule: String, active: [String: Int64], now: Int64) -> [Transition] {
        var episodes = self.open[rule] ?? [:]
        var transitions: [Transition] = []
        for subject in episodes.keys.sorted() where active[subject] == nil {
            let episode = episodes.removeValue(forKey: subject)!
            transitions.append(
                Transition(rule: rule, subject: subject, state: .resolved, value: episode.latest, started: episode.started, ended: now)
            )
        }
        for (subject, value) in active.sorted(by: { $0.key < $1.key }) {
            if episodes[subject] != nil {
                episodes[subject]!.latest = value
                continue
            }
            episodes[subject] = Episode(started: now, value: value, latest: value)
            transitions.append(Transition(rule: rule, subject: subject, state: .firing, value: value, started: now, ended: nil))
        }
        self.open[rule] = episodes.isEmpty ? nil : episodes
        return transitions
    }

    /// Drops the episodes of a deleted rule without notifying (its webhook is no longer wanted).
    mutating func forget(rule: String) { self.open[rule] = nil }

    /// The open episodes of `rule`, by subject.
    func firing(rule: String) -> [String: Episode] { self.open[rule] ?? [:] }
}
