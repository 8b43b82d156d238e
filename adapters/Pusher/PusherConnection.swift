public import NIOCore
public import SwitchboardAdapterKit
public import SwitchboardCore
import Synchronization

/// One Pusher client connection: runs its frames against the bus and queues replies on its session.
///
/// Transport-free: the WebSocket shell feeds it text frames (`receive`), asks it when to wake for the
/// keepalive (`heartbeat`), and reads `closeCode` when the session ends. Every refusal is a `pusher:error`
/// on this connection only (with the channel when one is concerned, so clients keep the connection) plus a
/// security event; nothing else changes. Every frame is charged to the connection's `ClientBudget`; a client
/// refused `[limits] max_refusals` times in quick succession is closed with 4100 (reconnect after backing off).
public final class PusherConnection: Sendable {
    struct State: Sendable {
        var channels: Set<String> = []
        /// Presence memberships held by this connection: channel to user id.
        var presence: [String: String] = [:]
        var userID: String?
        /// The signed-in user's `user_info` (JSON), its presence metadata where a presence auth names no member.
        var userInfo: ByteBuffer?
        /// The signed-in user's `#online-…` channel, where this connection holds the user's presence (watchlists).
        var online: String?
        /// The `#online-…` channels of the users this connection's watchlist names; not counted as its subscriptions.
        var watched: Set<String> = []
        var clientEvents: TokenBucket
        var heartbeat: PusherHeartbeat
        var closeCode: PusherErrorCode?
        var closed = false
        var budget: ClientBudget
    }

    /// The connection's outbound queue and bus identity.
    public let session: Session
    /// The `socket_id` sent in `pusher:connection_established`: `<connection>.<random>`.
    public let socketID: String
    let context: PusherContext
    let caller: Caller
    let state: Mutex<State>
    /// Which key signed each channel's auth and the sign-in, to end them when it is revoked (PusherConnection+Revocation).
    let keyGrants = Mutex(KeyGrants())

    /// The app as the registry has it now, so admin and SIGHUP changes (channel rules, limits) reach open connections.
    public var app: App { self.bus.apps.app(id: self.session.app.id) ?? self.session.app }
    var bus: Bus { self.context.bus }

    /// Creates the connection for an admitted session; `now` is monotonic milliseconds.
    public init(session: Session, socketID: String, context: PusherContext, caller: Caller, now: Int64 = PusherConnection.now()) {
        self.session = session
        self.socketID = socketID
        self.context = context
        self.caller = caller
        let app = session.app
        let activity = Int64(app.activityTimeoutSeconds) * 1000
        let pong = min(Int64(context.limits.pongTimeoutSeconds) * 1000, activity)
        let rate = Double(max(1, app.clientEventsPerSecond))
        self.state = Mutex(
            State(
                clientEvents: TokenBucket(capacity: rate, refillPerSecond: rate, now: Double(now) / 1000),
                heartbeat: PusherHeartbeat(
                    activityTimeout: activity,
                    pongTimeout: pong,
                    idleLimit: Int64(context.limits.idleLimitSeconds) * 1000,
                    now: now
                ),
                budget: ClientBudget(context.environment.limits, now: Double(now) / 1000)
            )
        )
    }

    /// Monotonic milliseconds, the clock of `receive` and `heartbeat`.
    public static func now() -> Int64 { Int64(MonotonicClock.seconds() * 1000) }

    /// A fresh socket id for `connection`: its number, a dot, and a random number (`\d+\.\d+`).
    public static func makeSocketID(_ connection: ConnectionID) -> String {
        "\(connection.raw).\(UInt32.random(in: 1...999_999_999))"
    }

    /// True when `text` has the shape of a socket id.
    public static func isSocketID(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0.utf8.count <= 20 && $0.utf8.allSatisfy { (0x30...0x39).contains($0) } }
    }

    /// `pusher:connection_established`, the first frame of the connection.
    public func established() {
        self.session.send(PusherReply.connectionEstablished(socketID: self.socketID, activityTimeout: self.app.activityTimeoutSeconds))
    }

    /// The channels the connection is subscribed to.
    public var channels: Set<String> { self.state.withLock { $0.channels } }
    /// The user the connection signed in as.
    public var userID: String? { self.state.withLock { $0.userID } }
    /// The code to close the socket with, once the server decided to end the connection.
    public var closeCode: PusherErrorCode? { self.state.withLock { $0.closeCode } }

    // MARK: Frames

    /// Handles one text frame from the client at `now` (monotonic milliseconds).
    public func receive(_ frame: ByteBuffer, now: Int64 = PusherConnection.now()) async {
        let (open, withinRate) = self.state.withLock { state in
            (state.closeCode == nil, state.closeCode == nil && state.budget.take(.command, now: Double(now) / 1000))
        }
        guard open else { return }
        // Past the rate only a subscribe may go on (a reconnecting client resubscribes every channel at once): a frame
        // too large to be one is refused unread.
        guard withinRate || frame.readableBytes <= ClientBudget.largestSubscribeFrame else { return self.refuseRate() }
        let limit = self.app.plan.maxMessageBytes + 4096
        guard frame.readableBytes <= limit else {
            self.heard(now: now, useful: true)
            self.refuse(.invalidMessage, "a frame of \(frame.readableBytes) bytes is over the limit of \(limit)", kind: .messageTooLarge)
            return
        }
        let command: PusherCommand
        do {
            command = try PusherCommand(parsing: frame)
        } catch {
            guard withinRate else { return self.refuseRate() }
            self.heard(now: now, useful: true)
            self.refuse(.invalidMessage, error.message, channel: error.channel, kind: .badRequest)
            return
        }
        if !withinRate {
            guard case .subscribe(let channel, _, _) = command else { return self.refuseRate() }
            guard self.state.withLock({ $0.budget.take(.subscribe, now: Double(now) / 1000) }) else {
                let rate = Int(self.context.environment.clientLimits.commandsPerSecond)
                let message = "more than \(rate) messages per second"
                return self.refuseSubscription(channel, .invalidMessage, message, kind: .rateLimited, type: "LimitReached", status: 429)
            }
        }
        switch command {
        case .ping:
            self.heard(now: now, useful: false)
            self.session.send(PusherReply.pong())
        case .pong:
            self.heard(now: now, useful: false)
        case .subscribe(let channel, let auth, let channelData):
            self.heard(now: now, useful: true)
            await self.subscribe(channel, auth: auth, channelData: channelData)
        case .unsubscribe(let channel):
            self.heard(now: now, useful: true)
            await self.unsubscribe(channel)
        case .signin(let auth, let userData):
            self.heard(now: now, useful: true)
            await self.signin(auth: auth, userData: userData)
        case .clientEvent(let event, let channel, let data, let size):
            self.heard(now: now, useful: true)
            await self.clientEvent(event, channel: channel, data: data, size: size, now: now)
        }
    }

    /// A frame past `commands_per_second`.
    func refuseRate() {
        let rate = Int(self.context.environment.clientLimits.commandsPerSecond)
        self.refuse(.invalidMessage, "more than \(rate) messages per second", kind: .rateLimited)
    }

    func heard(now: Int64, useful: Bool) {
        self.state.withLock { $0.heartbeat.heard(at: now, useful: useful) }
    }

    // MARK: Subscriptions

    func subscribe(_ channel: String, auth: String?, channelData: String?) async {
        guard ChannelName.isValid(channel) else {
            return self.refuseSubscription(
                channel,
                .invalidMessage,
                "invalid channel name",
                kind: .badRequest,
                type: "InvalidChannel",
                status: 400
            )
        }
        let (signedIn, already, count) = self.state.withLock { ($0.userID, $0.channels.contains(channel), $0.channels.count) }
        // A user's own channel is joined by signing in; pusher-js then subscribes to it too, and is told it is in.
        if let signedIn, already, channel == PusherChannel.serverToUserPrefix + signedIn {
            self.session.send(PusherReply.subscriptionSucceeded(channel: channel))
            return
        }
        if let denial = ChannelAccess.denial(.subscribe, channel: channel, signedInUser: signedIn) {
            return self.refuseSubscription(channel, .invalidMessage, denial, kind: .forbidden, type: "AuthError", status: 403)
        }
        if already { return self.refuse(.invalidMessage, "already subscribed to \(channel)", channel: channel, kind: .badRequest) }
        // The plan's limit, within the adapter's own per-socket cap.
        let limit = min(self.app.plan.maxSubscriptionsPerConnection ?? Int.max, self.context.limits.maxChannelsPerConnection)
        guard count < limit else {
            return self.refuseSubscription(
                channel,
                .overCapacity,
                "a connection may hold \(limit) subscriptions",
                kind: .overQuota,
                type: "LimitReached",
                status: 429
            )
        }
        let presence = PusherChannel.isPresence(channel)
        if PusherChannel.isPrivate(channel) || presence || self.app.policy(for: channel).requireToken {
            guard let auth, !auth.isEmpty else {
                return self.refuseSubscription(
                    channel,
                    .unauthorized,
                    "\(channel) needs an auth signature",
                    kind: .badSignature,
                    type: "AuthError",
                    status: 401
                )
            }
            if presence, channelData == nil, signedIn == nil {
                return self.refuseSubscription(
                    channel,
                    .invalidMessage,
                    "presence channels need channel_data, or a signed-in connection",
                    kind: .badRequest,
                    type: "AuthError",
                    status: 400
                )
            }
            // A private channel's auth may cover custom `channel_data` too (the official libraries sign it when given
            // some, and pusher-js forwards it); a presence auth always covers it.
            let secrets = self.currentSecrets
            let signs = { (data: String?) in
                PusherSignature.signer(
                    auth: auth,
                    key: self.app.key,
                    secrets: secrets,
                    signed: PusherSignature.channelString(socketID: self.socketID, channel: channel, channelData: data)
                )
            }
            let covered = signs(channelData) ?? (presence || channelData == nil ? nil : signs(nil))
            guard let signer = covered else {
                return self.refuseSubscription(
                    channel,
                    .unauthorized,
                    "invalid signature for \(channel)",
                    kind: .badSignature,
                    type: "AuthError",
                    status: 401
                )
            }
            self.keyGrants.withLock { $0.record(.channel(channel), signer: signer) }
        }
        if presence {
            await self.subscribePresence(channel, channelData: channelData)
        } else {
            do {
                try await self.bus.subscribe(self.session, app: self.app, channel: channel)
            } catch {
                return self.refuseSubscription(channel, error)
            }
            self.state.withLock { _ = $0.channels.insert(channel) }
            self.session.send(PusherReply.subscriptionSucceeded(channel: channel))
            await self.afterSubscribe(channel)
        }
    }

    /// The member a presence `channel_data` names: `user_id` (string or number) and optional `user_info`.
    static func member(channelData: String) -> (userID: String, info: ByteBuffer)? {
        guard let object = try? JSONObject(parsing: ByteBuffer(string: channelData)) else { return nil }
        let userID: String
        if let text = object.string("user_id") {
            userID = text
        } else if let raw = object.raw("user_id"), let first = raw.readableBytesView.first,
            first == UInt8(ascii: "-") || (0x30...0x39).contains(first)
        {
            userID = String(buffer: raw)
        } else {
            return nil
        }
        guard !userID.isEmpty, userID.utf8.count <= 200 else { return nil }
        let info = object.raw("user_info") ?? ByteBuffer(string: "null")
        return (userID, info)
    }

    /// Joins a presence channel as the member `channelData` names or, with none (pusher-js after `signin()`), as the
    /// signed-in user with its `user_info`.
    func subscribePresence(_ channel: String, channelData: String?) async {
        let member: (userID: String, info: ByteBuffer)?
        if let channelData {
            member = Self.member(channelData: channelData)
        } else {
            member = self.state.withLock { state in state.userID.map { ($0, state.userInfo ?? ByteBuffer(string: "null")) } }
        }
        guard let (userID, info) = member else {
            return self.refuseSubscription(
                channel,
                .invalidMessage,
                "channel_data must be a JSON object with a string or number user_id",
                kind: .badRequest,
                type: "AuthError",
                status: 400
            )
        }
        let holder = PresenceHolder.connection(self.session.connectionID)
        // The join excludes this connection: its own arrival reaches it as `subscription_succeeded`, not `member_added`,
        // even when the engine delivers the join after the subscribe below (Redis pub/sub does).
        do {
            _ = try await self.bus.presenceJoin(
                app: self.app,
                channel: channel,
                userID: userID,
                metadata: info,
                holder: holder,
                excluding: self.session.connectionID
            )
        } catch {
            return self.refuseSubscription(channel, error)
        }
        do {
            try await self.bus.subscribe(self.session, app: self.app, channel: channel)
        } catch {
            _ = try? await self.bus.presenceLeave(app: self.app.id, channel: channel, userID: userID, holder: holder)
            return self.refuseSubscription(channel, error)
        }
        self.state.withLock { state in
            state.channels.insert(channel)
            state.presence[channel] = userID
        }
        let current = (try? await self.bus.members(app: self.app.id, channel: channel)) ?? []
        self.session.send(PusherReply.presenceSubscriptionSucceeded(channel: channel, members: current))
        await self.afterSubscribe(channel)
    }

    /// After `subscription_succeeded`: the subscriber count when the app shares it, the cached event of a cache channel.
    func afterSubscribe(_ channel: String) async {
        if self.app.subscriptionCount, !PusherChannel.isPresence(channel) {
            self.session.send(PusherReply.subscriptionCount(channel: channel, count: self.bus.subscriberCount(app: self.app.id, channel: channel)))
        }
        // Kit channels start a new subscriber from what they keep: a trip's last position, a delivery's timeline.
        for kept in await self.bus.kitReplay(app: self.app, channel: channel) {
            if let frame = PusherEncoder.event(kept) { self.session.send(frame) }
        }
        guard PusherChannel.isCache(channel) else { return }
        let cached = await self.context.cachedEvent(app: self.app, channel: channel, now: WallClock.milliseconds())
        if let cached, let frame = PusherEncoder.event(cached) {
            self.session.send(frame)
        } else {
            self.session.send(PusherReply.cacheMiss(channel: channel))
            self.context.webhooks?.enqueue(.cacheMiss(channel), app: self.app)
        }
    }

    func unsubscribe(_ channel: String) async {
        let (subscribed, member) = self.state.withLock { state in
            (state.channels.remove(channel) != nil, state.presence.removeValue(forKey: channel))
        }
        guard subscribed else { return }
        await self.bus.unsubscribe(self.session.connectionID, app: self.app.id, channel: channel)
        if let member {
            _ = try? await self.bus.presenceLeave(app: self.app.id, channel: channel, userID: member, holder: .connection(self.session.connectionID))
        }
    }

    // MARK: Client events and sign-in

    func clientEvent(_ event: String, channel: String, data: ByteBuffer, size: Int, now: Int64) async {
        if let denial = ChannelAccess.denial(.publish, channel: channel) {
            return self.refuse(.invalidMessage, denial, channel: channel, kind: .forbidden)
        }
        guard self.app.clientEvents, self.app.policy(for: channel).clientPublish else {
            return self.refuse(.invalidMessage, "client events are not enabled on \(channel)", channel: channel, kind: .forbidden)
        }
        guard !PusherChannel.isEncrypted(channel) else {
            return self.refuse(.invalidMessage, "client events are refused on encrypted channels", channel: channel, kind: .forbidden)
        }
        guard PusherChannel.allowsClientEvents(channel) else {
            return self.refuse(.invalidMessage, "client events are only for private and presence channels", channel: channel, kind: .forbidden)
        }
        let (subscribed, member) = self.state.withLock { ($0.channels.contains(channel), $0.presence[channel]) }
        guard subscribed else {
            return self.refuse(.invalidMessage, "subscribe to \(channel) before sending client events", channel: channel, kind: .forbidden)
        }
        guard size <= self.app.plan.maxMessageBytes else {
            return self.refuse(
                .invalidMessage,
                "client event data is limited to \(self.app.plan.maxMessageBytes) bytes",
                channel: channel,
                kind: .messageTooLarge
            )
        }
        guard self.state.withLock({ $0.clientEvents.take(now: Double(now) / 1000) }) else {
            // As on Pusher the event is dropped and the connection stays (pusher-js apps send bursts, a cursor's moves);
            // the frame rate (`commands_per_second`) still bounds a flood, and its refusals do count.
            return self.refuse(
                .clientEventRateLimit,
                "more than \(self.app.clientEventsPerSecond) client events per second",
                channel: channel,
                kind: .rateLimited,
                counted: false
            )
        }
        let publication = Publication(
            app: self.app.id,
            channel: channel,
            event: event,
            data: data,
            userID: member,
            sender: self.session.connectionID,
            timestamp: WallClock.milliseconds()
        )
        do {
            _ = try await self.bus.publish(publication, app: self.app, options: .via("pusher"))
        } catch {
            return self.refuse(error, channel: channel)
        }
        self.context.webhooks?.enqueue(
            .clientEvent(channel, event: event, data: PusherData.wireString(data), socketID: self.socketID, userID: member),
            app: self.app
        )
    }

    /// The largest signin `user_data`: an id, `user_info` and a 100-entry watchlist of long ids fit, and what is read,
    /// kept and echoed back stays small whatever the frame size allows.
    public static let maxUserDataBytes = 32 * 1024

    func signin(auth: String, userData: String) async {
        guard userData.utf8.count <= Self.maxUserDataBytes else {
            return self.refuse(.invalidMessage, "user_data is limited to \(Self.maxUserDataBytes) bytes", kind: .badRequest)
        }
        let signed = PusherSignature.userString(socketID: self.socketID, userData: userData)
        guard let signer = PusherSignature.signer(auth: auth, key: self.app.key, secrets: self.currentSecrets, signed: signed) else {
            self.report(.badSignature, "invalid signature for pusher:signin")
            return self.terminate(.unauthorized, "invalid signature for pusher:signin")
        }
        guard let object = try? JSONObject(parsing: ByteBuffer(string: userData)), let userID = object.string("id"), !userID.isEmpty,
            userID.utf8.count <= 200
        else {
            return self.refuse(.invalidMessage, "user_data must be a JSON object with a string id", kind: .badRequest)
        }
        let current = self.state.withLock { $0.userID }
        if let current, current != userID {
            return self.refuse(.invalidMessage, "this connection is already signed in as another user", kind: .badRequest)
        }
        let userChannel = PusherChannel.serverToUserPrefix + userID
        if current == nil {
            self.state.withLock { state in
                state.userID = userID
                state.userInfo = object.raw("user_info")
            }
            self.context.registry.signedIn(self, userID: userID)
            if ChannelName.isValid(userChannel), ChannelAccess.denial(.subscribe, channel: userChannel, signedInUser: userID) == nil,
                (try? await self.bus.subscribe(self.session, app: self.app, channel: userChannel)) != nil
            {
                self.state.withLock { _ = $0.channels.insert(userChannel) }
            }
        }
        self.keyGrants.withLock { $0.record(.connection, signer: signer) }
        self.session.send(PusherReply.signinSuccess(userData: userData))
        if current == nil {
            await self.announceOnline(userID: userID)
            await self.watch(object.strings("watchlist") ?? [])
        }
    }

    // MARK: Keepalive and ending

    /// Runs the keepalive at `now` (monotonic milliseconds): pings or ends the connection as due.
    ///
    /// Returns when to call again, or nil once the connection is over.
    public func heartbeat(now: Int64 = PusherConnection.now()) -> Int64? {
        guard self.session.end == nil else { return nil }
        let action = self.state.withLock { state -> PusherHeartbeat.Action? in
            guard !state.closed, state.closeCode == nil else { return nil }
            return state.heartbeat.poll(now: now, subscribed: !state.channels.isEmpty)
        }
        switch action {
        case nil:
            return nil
        case .wait(let until):
            return until
        case .ping(let until):
            self.session.send(PusherReply.ping())
            return until
        case .close(let code):
            self.terminate(code)
            return nil
        }
    }

    /// Ends the connection from the server side: `pusher:error` with `code`, then the socket closes with it.
    public func terminate(_ code: PusherErrorCode, _ message: String? = nil, end: SessionEnd = .normal) {
        let first = self.state.withLock { state -> Bool in
            guard state.closeCode == nil else { return false }
            state.closeCode = code
            return true
        }
        guard first else { return }
        self.session.close(end, farewell: PusherReply.error(code, message))
    }

    /// Leaves every channel and presence set; called once when the socket is gone.
    public func closed() async {
        let (channels, presence) = self.state.withLock { state in
            state.closed = true
            if let online = state.online, let user = state.userID { state.presence[online] = user }
            defer {
                state.channels = []
                state.watched = []
                state.presence = [:]
                state.online = nil
            }
            return (state.channels.union(state.watched), state.presence)
        }
        let connection = self.session.connectionID
        for channel in channels { await self.bus.unsubscribe(connection, app: self.app.id, channel: channel) }
        for (channel, member) in presence {
            _ = try? await self.bus.presenceLeave(app: self.app.id, channel: channel, userID: member, holder: .connection(connection))
        }
    }

    // MARK: Refusals

    func report(_ kind: SecurityEvent.Kind, _ detail: String, blameless: Bool = false) {
        let gate = self.context.environment.gate
        gate.report(kind, app: self.app.id, caller: self.caller, detail: detail, connection: self.session.connectionID, blameless: blameless)
    }

    /// Answers a refused frame with `pusher:error`; `counted` refusals spend `max_refusals`, past which the connection
    /// closes, and count toward an automatic block.
    func refuse(_ code: PusherErrorCode, _ message: String, channel: String? = nil, kind: SecurityEvent.Kind?, counted: Bool = true) {
        guard self.closeCode == nil else { return }
        self.session.send(PusherReply.error(code, message, channel: channel))
        if let kind { self.report(kind, channel.map { "\($0): \(message)" } ?? message, blameless: !counted) }
        guard counted else { return }
        let now = Double(Self.now()) / 1000
        if !self.state.withLock({ $0.budget.take(.refusal, now: now) }) {
            self.terminate(.overCapacity, "too many refused messages; reconnect later")
        }
    }

    /// A refused subscription: `pusher:subscription_error` (what pusher-js and Echo listen for), then `pusher:error`.
    func refuseSubscription(_ channel: String, _ code: PusherErrorCode, _ message: String, kind: SecurityEvent.Kind, type: String, status: Int) {
        self.session.send(PusherReply.subscriptionError(channel: channel, type: type, error: message, status: status))
        self.refuse(code, message, channel: channel, kind: kind)
    }

    func refuseSubscription(_ channel: String, _ error: any Error) {
        switch error as? BusError {
        case .channelLimit(let limit):
            self.refuseSubscription(
                channel,
                .overCapacity,
                "the app's plan allows \(limit) channels",
                kind: .overQuota,
                type: "LimitReached",
                status: 429
            )
        case .presenceNotAllowed:
            self.refuseSubscription(
                channel,
                .invalidMessage,
                "presence is not enabled on \(channel)",
                kind: .forbidden,
                type: "AuthError",
                status: 403
            )
        case .presenceFull(let limit):
            self.refuseSubscription(
                channel,
                .overCapacity,
                "\(channel) already has \(limit) members",
                kind: .overQuota,
                type: "LimitReached",
                status: 429
            )
        case .metadataTooLarge(let limit):
            self.refuseSubscription(
                channel,
                .invalidMessage,
                "user_info is limited to \(limit) bytes",
                kind: .messageTooLarge,
                type: "AuthError",
                status: 413
            )
        default:
            self.refuse(error, channel: channel)
        }
    }

    func refuse(_ error: any Error, channel: String) {
        switch error as? BusError {
        case .channelLimit(let limit):
            self.refuse(.overCapacity, "the app's plan allows \(limit) channels", channel: channel, kind: .overQuota)
        case .connectionLimit(let limit):
            self.refuse(.overCapacity, "the app's plan allows \(limit) connections", channel: channel, kind: .overQuota)
        case .messageTooLarge(let limit):
            self.refuse(.invalidMessage, "messages are limited to \(limit) bytes", channel: channel, kind: .messageTooLarge)
        case .rateLimited:
            self.refuse(.clientEventRateLimit, "the app's publish rate is exhausted", channel: channel, kind: .rateLimited)
        case .monthlyQuota(let limit):
            self.refuse(.overCapacity, BusError.monthlyQuota(limit: limit).message, channel: channel, kind: .overQuota)
        case .invalidChannel:
            self.refuse(.invalidMessage, "invalid channel name", channel: channel, kind: .badRequest)
        case .invalidEventName:
            self.refuse(.invalidMessage, EventName.rule, channel: channel, kind: .badRequest)
        case .presenceNotAllowed:
            self.refuse(.invalidMessage, "presence is not enabled on \(channel)", channel: channel, kind: .forbidden)
        case .presenceFull, .metadataTooLarge:
            self.refuseSubscription(channel, error)
        case .kitRefused(let refusal):
            let code: PusherErrorCode = refusal.reason == .rateLimited ? .clientEventRateLimit : .invalidMessage
            self.refuse(code, refusal.message, channel: channel, kind: refusal.securityKind)
        case nil:
            self.refuse(.invalidMessage, "internal error", channel: channel, kind: nil)
        }
    }
}
