import NIOCore
import Synchronization

/// Applies kit rules to messages before they are published, and keeps the little state they need on this node:
/// ICE candidate buckets per connection, position buckets per publisher, and each delivery's current status.
///
/// `Bus.publishAdmitted` calls `admit` for every message on a channel whose rule names a kit, whatever protocol it
/// came from; a refusal is a `BusError.kitRefused` each adapter answers in its own protocol. The state is bounded
/// (`capacity` entries per table, idle ones dropped first); a delivery's current status is its kept timeline, which
/// every node of a cluster shares.
public final class KitGuard: Sendable {
    struct Bucket {
        var bucket: TokenBucket
        var used: Double
    }

    struct ChannelKey: Hashable {
        var app: String
        var channel: String
    }

    struct PublisherKey: Hashable {
        var app: String
        var channel: String
        var publisher: String
    }

    /// Where a delivery stood after a status this node admitted, and when (monotonic seconds).
    struct Admitted {
        var state: DeliveryState
        var at: Double
    }

    /// How long a status this node admitted outranks the kept timeline: the time a publish takes to reach it.
    static let admittedWindow = 2.0

    struct State {
        var ice: [PublisherKey: Bucket] = [:]
        var positions: [PublisherKey: Bucket] = [:]
        var deliveries: [ChannelKey: Admitted] = [:]
    }

    /// The most entries each table holds.
    public let capacity: Int
    private let state = Mutex(State())

    /// The event names whose payloads strong privacy seals in `sealed` (calls with `encrypted = true`).
    static let sealedCallEvents: Set<String> = ["call.offer", "call.answer", "call.ice_candidate", "call.media_state"]
    /// Top-level fields that carry content in the clear; refused on encrypted channels.
    static let plaintextFields = ["text", "sdp", "candidate", "candidates"]

    /// Creates a guard holding at most `capacity` entries per table.
    public init(capacity: Int = 100_000) {
        self.capacity = max(16, capacity)
    }

    /// The event name without the Pusher client-event prefix (`client-call.offer` → `call.offer`).
    static func baseName(_ event: String?) -> String {
        guard let event else { return "message" }
        return event.hasPrefix("client-") ? String(event.dropFirst("client-".count)) : event
    }

    /// Checks `publication` against `kit` at `now` (monotonic seconds); `byServer` when a server API carried it;
    /// `keptState` reads where a delivery channel's kept timeline stands when this node does not know it.
    public func admit(
        _ publication: Publication,
        kit: KitRule,
        byServer: Bool = false,
        now: Double = MonotonicClock.seconds(),
        keptState: () async -> DeliveryState = { DeliveryState() }
    ) async throws(BusError) {
        do throws(KitRefusal) {
            try await self.check(publication, kit: kit, byServer: byServer, now: now, keptState: keptState)
        } catch {
            throw .kitRefused(error)
        }
    }

    func check(
        _ publication: Publication,
        kit: KitRule,
        byServer: Bool,
        now: Double,
        keptState: () async -> DeliveryState
    ) async throws(KitRefusal) {
        let event = Self.baseName(publication.event)
        switch kit.kind {
        case .chat:
            try Self.requireOwnIdentity(publication, byServer: byServer)
            if kit.encrypted { try Self.requireSealed(publication, event: event, sealedEvents: []) }
        case .calls:
            guard publication.data.readableBytes <= kit.maxSignalBytes else {
                throw KitRefusal(.payloadTooLarge, "call signaling payloads are limited to \(kit.maxSignalBytes) bytes")
            }
            try Self.requireOwnIdentity(publication, byServer: byServer)
            if kit.encrypted { try Self.requireSealed(publication, event: event, sealedEvents: Self.sealedCallEvents) }
            if event == "call.ice_candidate" { try self.takeCandidates(publication, kit: kit, now: now) }
        case .location:
            if event == "location.update" { try self.admitPosition(publication, kit: kit, now: now) }
        case .delivery:
            if event == "delivery.status" { try await self.admitStatus(publication, byServer: byServer, now: now, keptState: keptState) }
        }
    }

    // MARK: Identity

    /// A member signed in as one user may not write as another: a chat or calls payload's `user_id`, when it has one, is
    /// the publisher's own. Receivers show it as the sender. A server API publish, and a publisher the edge knows no user
    /// of (a Pusher member of a private channel), are not checked.
    static func requireOwnIdentity(_ publication: Publication, byServer: Bool) throws(KitRefusal) {
        guard !byServer, let user = publication.userID, !user.isEmpty, let payload = KitPayload(publication.data),
            let claimed = payload.members["user_id"]
        else { return }
        switch claimed {
        case .string(let text) where text == user: return
        case .number(let number) where number.magnitude < 1e15 && number == number.rounded() && String(Int64(number)) == user: return
        default: throw KitRefusal(.identityMismatch, "\"user_id\" must be the user this connection is signed in as")
        }
    }

    // MARK: Encryption

    /// An encrypted envelope as `@domvia/realtime-e2ee` writes it: `{v, alg, kid, iv, ct}`.
    static func isEnvelope(_ payload: KitPayload?) -> Bool {
        guard let payload, payload.number("v") != nil, payload.string("alg") != nil, payload.string("kid") != nil else { return false }
        guard let iv = payload.string("iv"), let ct = payload.string("ct"), !iv.isEmpty, !ct.isEmpty else { return false }
        return isBase64URL(iv) && isBase64URL(ct)
    }

    static func isBase64URL(_ text: String) -> Bool {
        text.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: "_")
        }
    }

    /// Refuses plaintext content: every payload is an object, `body` (required on messages) is an envelope, the
    /// `sealedEvents` carry `sealed`, and no clear-text content field is present.
    static func requireSealed(_ publication: Publication, event: String, sealedEvents: Set<String>) throws(KitRefusal) {
        guard let payload = KitPayload(publication.data) else {
            throw KitRefusal(.plaintextRefused, "this channel is end-to-end encrypted: send a JSON object with an encrypted envelope")
        }
        if let field = plaintextFields.first(where: { payload.members[$0] != nil }) {
            throw KitRefusal(.plaintextRefused, "this channel is end-to-end encrypted: \"\(field)\" must travel inside an encrypted envelope")
        }
        let isMessage = event == "message" || event.hasSuffix(".message")
        if payload.members["body"] != nil || isMessage {
            guard Self.isEnvelope(payload.object("body")) else {
                throw KitRefusal(.plaintextRefused, "this channel is end-to-end encrypted: \"body\" must be an envelope {v, alg, kid, iv, ct}")
            }
        }
        if sealedEvents.contains(event), !Self.isEnvelope(payload.object("sealed")) {
            throw KitRefusal(.plaintextRefused, "strong privacy: \(event) must carry its payload in \"sealed\", an encrypted envelope")
        }
    }

    // MARK: Rates

    func take(_ table: WritableKeyPath<State, [PublisherKey: Bucket]>, _ key: PublisherKey, count: Double, rate: Int, burst: Int, now: Double) -> Bool
    {
        self.state.withLock { state in
            if state[keyPath: table].count >= self.capacity, state[keyPath: table][key] == nil {
                state[keyPath: table] = state[keyPath: table].filter { now - $0.value.used < 60 }
                if state[keyPath: table].count >= self.capacity {
                    // Still full of recent entries: drop the least recently used quarter, not every publisher's bucket.
                    let oldest = state[keyPath: table].sorted { $0.value.used < $1.value.used }.prefix(self.capacity / 4)
                    for (stale, _) in oldest { state[keyPath: table][stale] = nil }
                }
            }
            var entry =
                state[keyPath: table][key] ?? Bucket(bucket: TokenBucket(capacity: Double(burst), refillPerSecond: Double(rate), now: now), used: now)
            let allowed = entry.bucket.take(count, now: now)
            entry.used = now
            state[keyPath: table][key] = entry
            return allowed
        }
    }

    /// The bytes a sealed batch is charged one candidate for: a candidate line and its share of the envelope.
    static let sealedBytesPerCandidate = 200

    /// ICE candidates count per connection (a batch counts each candidate); the server's own publishes are not limited.
    /// A sealed batch shows no candidates, so it counts what it says or one per `sealedBytesPerCandidate`, whichever is more.
    func takeCandidates(_ publication: Publication, kit: KitRule, now: Double) throws(KitRefusal) {
        guard let sender = publication.sender else { return }
        let payload = KitPayload(publication.data)
        let declared = payload?.number("count").map { Int(max(1, min($0, 1000))) } ?? 1
        let count = payload?.arrayCount("candidates") ?? max(declared, publication.data.readableBytes / Self.sealedBytesPerCandidate)
        let key = PublisherKey(app: publication.app, channel: "", publisher: sender.description)
        guard self.take(\.ice, key, count: Double(max(1, count)), rate: kit.iceCandidatesPerSecond, burst: kit.iceCandidatesPerSecond * 3, now: now)
        else {
            throw KitRefusal(.rateLimited, "a connection may send \(kit.iceCandidatesPerSecond) ICE candidates per second; batch and retry")
        }
    }

    /// A position update: valid coordinates, within the publisher's rate (a connection, else the user; the server is not limited).
    func admitPosition(_ publication: Publication, kit: KitRule, now: Double) throws(KitRefusal) {
        guard let payload = KitPayload(publication.data), let lat = payload.number("lat"), let lon = payload.number("lon") else {
            throw KitRefusal(.invalidPayload, "location.update needs numeric lat and lon")
        }
        guard (-90...90).contains(lat), (-180...180).contains(lon) else {
            throw KitRefusal(.invalidPayload, "lat must be within ±90 and lon within ±180")
        }
        guard let publisher = publication.sender?.description ?? publication.userID.map({ "user:\($0)" }) else { return }
        let key = PublisherKey(app: publication.app, channel: publication.channel, publisher: publisher)
        let rate = kit.locationUpdatesPerSecond
        guard self.take(\.positions, key, count: 1, rate: rate, burst: rate + 1, now: now) else {
            throw KitRefusal(.rateLimited, "a publisher may send \(rate) position updates per second on \(publication.channel)")
        }
    }

    // MARK: Delivery

    /// The current status of a delivery channel as this node knows it.
    public func deliveryStatus(app: String, channel: String) -> DeliveryStatus? {
        self.state.withLock { $0.deliveries[ChannelKey(app: app, channel: channel)]?.state.current }
    }

    /// The current status is the channel's kept timeline (shared by every node), unless this node admitted one in the
    /// last `admittedWindow` seconds, which may not be kept yet: concurrent updates on one node are checked in turn.
    func admitStatus(_ publication: Publication, byServer: Bool, now: Double, keptState: () async -> DeliveryState) async throws(KitRefusal) {
        guard let text = KitPayload(publication.data)?.string("status") else {
            throw KitRefusal(.invalidPayload, "delivery.status needs a string status")
        }
        guard let next = DeliveryStatus(rawValue: text) else {
            let known = DeliveryStatus.allCases.map(\.rawValue).joined(separator: ", ")
            throw KitRefusal(.invalidPayload, "unknown delivery status \"\(text)\" (known: \(known))")
        }
        let key = ChannelKey(app: publication.app, channel: publication.channel)
        let kept = await keptState()
        let refusal = self.state.withLock { state -> KitRefusal? in
            let recent = state.deliveries[key].flatMap { now - $0.at < Self.admittedWindow ? $0.state : nil }
            let current = recent ?? kept
            let allowed = DeliveryStatus.allowed(after: current, byServer: byServer)
            guard allowed.contains(next) else {
                let names = allowed.map(\.rawValue).sorted().joined(separator: ", ")
                let from = current.current.map { "from \($0.rawValue)" } ?? "as the first status"
                return KitRefusal(.invalidTransition, "a delivery cannot go to \(next.rawValue) \(from) (allowed: \(names))")
            }
            if state.deliveries.count >= self.capacity, state.deliveries[key] == nil {
                state.deliveries = state.deliveries.filter { now - $0.value.at < Self.admittedWindow }
            }
            state.deliveries[key] = Admitted(state: current.advanced(to: next), at: now)
            return nil
        }
        if let refusal { throw refusal }
    }
}
