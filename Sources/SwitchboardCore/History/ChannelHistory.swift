import NIOCore

/// One channel's kept messages, as a value: offsets increase by one per message, the epoch names the run.
///
/// Pure and clock-free: callers pass `now` (milliseconds), so bounds are tested without waiting.
public struct ChannelHistory: Sendable {
    /// The epoch of this stream.
    public let epoch: String
    /// The offset the last appended message got (0 before any).
    public private(set) var lastOffset: UInt64 = 0
    /// What the kept messages cost in memory (`cost(of:)` summed): the engine bounds the total over every stream.
    public private(set) var bytes = 0
    private var messages: [Publication] = []
    private var head = 0

    /// Creates an empty stream with `epoch`.
    public init(epoch: String) { self.epoch = epoch }

    /// Recreates a saved stream: `messages` oldest first, each positioned in `epoch`, none after `lastOffset`.
    public init(epoch: String, lastOffset: UInt64, messages: [Publication]) {
        self.epoch = epoch
        self.lastOffset = lastOffset
        self.messages = messages
        self.bytes = messages.reduce(0) { $0 + Self.cost(of: $1) }
    }

    /// The memory one kept message holds: its payload and strings, and a fixed part for the record around them.
    public static func cost(of publication: Publication) -> Int {
        var bytes = 128 + publication.data.readableBytes + publication.channel.utf8.count + (publication.event?.utf8.count ?? 0)
        bytes += (publication.userID?.utf8.count ?? 0) + (publication.clientID?.utf8.count ?? 0)
        bytes += publication.connInfo?.readableBytes ?? 0
        for (name, value) in publication.tags { bytes += name.utf8.count + value.utf8.count }
        return bytes
    }

    /// The number of messages kept.
    public var count: Int { self.messages.count - self.head }

    /// Appends `publication`, assigning its position; then trims by `policy`.
    public mutating func append(_ publication: Publication, policy: HistoryPolicy, now: Int64) -> Publication {
        self.lastOffset += 1
        var kept = publication
        kept.position = StreamPosition(offset: self.lastOffset, epoch: self.epoch)
        kept.data = kept.data.owned()
        kept.connInfo = kept.connInfo.map { $0.owned() }
        self.messages.append(kept)
        self.bytes += Self.cost(of: kept)
        self.trim(policy: policy, now: now)
        return kept
    }

    /// Drops messages beyond the policy's size or older than its ttl.
    public mutating func trim(policy: HistoryPolicy, now: Int64) {
        let limit = max(0, policy.size)
        while self.count > limit { self.dropFirst() }
        while self.head < self.messages.count, now - self.messages[self.head].timestamp > policy.ttlMilliseconds { self.dropFirst() }
        self.compact()
    }

    /// Drops the oldest messages until the rest cost at most `bytes`; returns the position of the last one dropped,
    /// if any. The offsets go on, so a client asking from before the cut is told of the gap.
    public mutating func dropOldest(keepingAtMost bytes: Int) -> StreamPosition? {
        var last: StreamPosition?
        while self.bytes > bytes, self.head < self.messages.count {
            last = self.messages[self.head].position
            self.dropFirst()
        }
        self.compact()
        return last
    }

    /// Drops every kept message; the epoch and the last offset stay, so the next message continues the stream.
    public mutating func removeAll() {
        self.messages.removeAll()
        self.head = 0
        self.bytes = 0
    }

    private mutating func dropFirst() {
        self.bytes -= Self.cost(of: self.messages[self.head])
        // Its payload is let go now, not when the storage is next compacted: dropped messages must not hold memory
        // that `bytes` no longer counts.
        self.messages[self.head].data = ByteBuffer()
        self.messages[self.head].connInfo = nil
        self.messages[self.head].tags = [:]
        self.head += 1
    }

    /// Lets go of dropped messages once they are most of the storage, so a drop costs one step, not a shift.
    private mutating func compact() {
        if self.head > 64 && self.head * 2 > self.messages.count {
            self.messages.removeFirst(self.head)
            self.head = 0
        }
    }

    /// Messages with an offset greater than `offset`, oldest first, at most `limit` (all when nil).
    ///
    /// Offsets increase along the stream, so the first one past `offset` is found by bisection: a read costs what it
    /// returns, not what the channel keeps (every subscribe reads, and a plan may keep 100,000 messages).
    public func messages(after offset: UInt64, limit: Int? = nil) -> HistoryPage {
        let kept = self.messages[self.head...]
        let firstKept = kept.first?.position?.offset ?? (self.lastOffset + 1)
        let truncated = offset < firstKept - 1 && offset < self.lastOffset
        var low = kept.startIndex
        var high = kept.endIndex
        while low < high {
            let middle = low + (high - low) / 2
            if (kept[middle].position?.offset ?? 0) > offset { high = middle } else { low = middle + 1 }
        }
        let end = limit.map { min(kept.endIndex, low + max(0, $0)) } ?? kept.endIndex
        return HistoryPage(publications: Array(kept[low..<end]), latest: self.position, truncated: truncated)
    }

    /// The newest `limit` messages, oldest first.
    public func latest(limit: Int) -> [Publication] {
        Array(self.messages[self.head...].suffix(max(0, limit)))
    }

    /// Where the stream stands.
    public var position: StreamPosition { StreamPosition(offset: self.lastOffset, epoch: self.epoch) }

    /// Milliseconds timestamp of the newest message, if any.
    public var newestTimestamp: Int64? { self.count > 0 ? self.messages.last?.timestamp : nil }
}
