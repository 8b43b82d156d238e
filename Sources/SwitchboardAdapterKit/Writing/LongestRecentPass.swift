import NIOCore

/// The longest batch of writes a loop finished in the last second or two: how long one fan-out takes there, read by the
/// pacer. Two one-second windows, so the figure never drops to a short batch the moment a window turns.
struct LongestRecentPass {
    static let window = TimeAmount.seconds(1)

    private var current = TimeAmount.zero
    private var previous = TimeAmount.zero
    private var windowStart = NIODeadline.distantPast

    mutating func record(_ pass: TimeAmount, at now: NIODeadline) {
        self.turn(at: now)
        self.current = max(self.current, pass)
    }

    /// The longest pass of this window and the one before; zero once two windows went by without one.
    func longest(at now: NIODeadline) -> TimeAmount {
        if now - self.windowStart >= Self.window * 2 { return .zero }
        if now - self.windowStart >= Self.window { return self.current }
        return max(self.current, self.previous)
    }

    private mutating func turn(at now: NIODeadline) {
        let age = now - self.windowStart
        guard age >= Self.window else { return }
        self.previous = age >= Self.window * 2 ? .zero : self.current
        self.current = .zero
        self.windowStart = now
    }
}
