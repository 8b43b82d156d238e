import Logging
public import NIOCore
public import SwitchboardAdapterKit
public import SwitchboardCore
import Synchronization

/// One JWT-protocol (Centrifugo v2 JSON) client connection: runs its commands against the bus and queues
/// replies on its session. The WebSocket shell around it only moves frames and calls `tick` every second.
///
/// A refused command gets Centrifugo's error code in its reply; a bad connection token, a malformed frame or a flood
/// ends the connection with the documented disconnect code. Either way a security event is recorded and no
/// other client sees anything.
public final class JWTConnection: Sendable {
    struct Subscription: Sendable {
        var serverSide: Bool
        var expiresAt: Int64?
        var presence: Bool
    }

    struct State: Sendable {
        var connected = false
        var user = ""
        var info: ByteBuffer?
        var expiresAt: Int64?
        var subscriptions: [String: Subscription] = [:]
        var pending: Set<String> = []
        var disconnect: JWTDisconnect?
        var bucket: TokenBucket
        /// Publishes and refusals, per `[limits]`; the command flood has its own bucket (`commandsPerSecond`).
        var budget: ClientBudget
        var openedAt: Int64
        var lastPingAt: Int64
        var awaitingPongSince: Int64?
    }

    /// What a subscribe has set up before its reply goes out: the result fields (recovered publications included) and where the live messages resume.
    struct Prepared: Sendable {
        var channel: String
        var positioned = false
        var recoverable = false
        var position = StreamPosition(offset: 0, epoch: "")
        var wasRecovering = false
        var recovered = false
        var replayAfter: UInt64 = 0
        /// Recovered publications, sent in the reply (`publications`) as Centrifugo sends them.
        var publications: [Publication] = []
        var expiresAt: Int64?
    }

    /// The connection's outbound queue and bus identity.
    public let session: Session
    /// The client id sent in the connect reply.
    public let clientID: String
    /// Seconds between server pings, announced in the connect reply.
    public let pingInterval: Int64
    /// The server version announced in the connect reply.
    public static let version = "switchboard"
    let environment: AdapterEnvironment
    let caller: Caller
    let registry: JWTRegistry
    private let state: Mutex<State>
    /// Which key signed the connection token and each subscription token, to end them when it is revoked (+Revocation).
    let keyGrants = Mutex(KeyGrants())

    /// The app as the registry has it now, so admin and SIGHUP changes (channel rules, limits) reach open connections.
    public var app: App { self.bus.apps.app(id: self.session.app.id) ?? self.session.app }
    var bus: Bus { self.environment.bus }

    /// Milliseconds the client has to answer a ping.
    static let pongTimeoutMilliseconds: Int64 = 10_000
    /// Milliseconds a connection may stay open without connecting.
    static let staleMilliseconds: Int64 = 30_000
    /// The most publications one client `history` call returns (Centrifugo's `client.history_max_publication_limit`).
    static let historyMaxPublicationLimit: Int64 = 300
    /// The most publications a subscribe recovers (Centrifugo's `client.recovery_max_publication_limit`); a client that
    /// missed more is told it did not recover, and the read that finds out stops one past this.
    static let recoveryMaxPublicationLimit = 300

    /// Creates the connection for an admitted session.
    ///
    /// - Parameters:
    ///   - commandsPerSecond: the sustained command rate; a client above it (after `burst`) is disconnected with 3013.
    public init(
        session: Session,
        clientID: String,
        environment: AdapterEnvironment,
        caller: Caller,
        registry: JWTRegistry = JWTRegistry(),
        pingInterval: Int64 = 25,
        commandsPerSecond: Double = 100,
        burst: Double = 300,
        now: Int64 = WallClock.milliseconds()
    ) {
        self.session = session
        self.clientID = clientID
        self.environment = environment
        self.caller = caller
        self.registry = registry
        self.pingInterval = pingInterval
        self.state = Mutex(
            State(
                bucket: TokenBucket(capacity: burst, refillPerSecond: commandsPerSecond, now: Double(now) / 1000),
                budget: ClientBudget(environment.limits, now: Double(now) / 1000),
                openedAt: now,
                lastPingAt: now
            )
        )
    }

    /// The connected user (empty for anonymous), or nil before connect.
    public var user: String? { self.state.withLock { $0.connected ? $0.user : nil } }

    /// Why the server ended the connection, once it has.
    public var disconnectReason: JWTDisconnect? { self.state.withLock { $0.disconnect } }

    /// Channels this connection is subscribed to.
    public var channels: Set<String> { self.state.withLock { Set($0.subscriptions.keys) } }

    // MARK: Frames

    /// Handles one text frame from the client: one or more newline-separated commands.
    public func receive(_ frame: ByteBuffer, now: Int64 = WallClock.milliseconds()) async {
        let admitted = self.state.withLock { state -> Bool? in
            guard state.disconnect == nil else { return nil }
            state.awaitingPongSince = nil
            return true
        }
        guard admitted != nil else { return }
        let commands: [JWTCommand]
        do {
            commands = try JWTCommand.parse(frame: frame)
        } catch {
            return self.end(.badRequest, kind: .badRequest, detail: error.message)
        }
        let subscribes = commands.count { if case .call(.subscribe, _) = $0.body { true } else { false } }
        let seconds = Double(now) / 1000
        let allowed = self.state.withLock { state in
            // Past the rate, subscribes (a reconnecting client resubscribes every channel at once) draw on the
            // connection's subscribe allowance; every other command still needs the rate.
            state.bucket.take(Double(commands.count), now: seconds)
                || (subscribes > 0 && state.bucket.take(Double(commands.count - subscribes), now: seconds)
                    && state.budget.take(.subscribe, count: Double(subscribes), now: seconds))
        }
        guard allowed else { return self.end(.tooManyRequests, kind: .rateLimited, detail: "command flood") }
        for command in commands {
            guard self.disconnectReason == nil else { return }
            await self.run(command)
        }
    }

    func run(_ command: JWTCommand) async {
        let id = command.id
        switch command.body {
        case .pong:
            return
        case .unknown(let name):
            self.report(.badRequest, "unknown method \(name.prefix(64))")
            self.reply(JWTReply.error(id: id, .methodNotFound, message: "method not found: \(name)"))
        case .call(let method, let params):
            guard method == .connect || self.user != nil else {
                return self.end(.badRequest, kind: .badRequest, detail: "\(method.rawValue) before connect")
            }
            switch method {
            case .connect: await self.connect(id: id, params)
            case .subscribe: await self.subscribe(id: id, params)
            case .unsubscribe: await self.unsubscribe(id: id, params)
            case .publish: await self.publish(id: id, params)
            case .presence: await self.presence(id: id, params, stats: false)
            case .presenceStats: await self.presence(id: id, params, stats: true)
            case .history: await self.history(id: id, params)
            case .refresh: self.refresh(id: id, params)
            case .subRefresh: self.subRefresh(id: id, params)
            case .ping: self.reply(JWTReply.result(id: id, "ping"))
            case .send: return
            case .rpc: self.reply(JWTReply.error(id: id, .notAvailable))
            }
        }
    }

    // MARK: Connect and refresh

    func connect(id: Int64, _ params: JSONObject) async {
        guard self.user == nil else { return self.end(.badRequest, kind: .badRequest, detail: "connect sent twice") }
        let token = params.string("token") ?? ""
        var user = ""
        var info: ByteBuffer?
        var expiresAt: Int64?
        var channels: [String] = []
        if token.isEmpty {
            // No credentials at all is a malformed connect to Centrifugo: 3501, which clients do not retry.
            guard self.app.allowAnonymous else {
                return self.end(.badRequest, kind: .tokenInvalid, detail: "connect without a token")
            }
        } else {
            guard let claims = self.verify(token, id: id, for: .connection) else { return }
            user = claims.subject ?? ""
            info = claims.info
            expiresAt = claims.grantExpiresAt
            channels = claims.channels + (claims.payload.object("subs")?.keys ?? [])
            self.remember(.connection, claims)
            guard !user.isEmpty || self.app.allowAnonymous else {
                self.reply(JWTReply.error(id: id, .unauthorized))
                return self.end(.invalidToken, kind: .tokenInvalid, detail: "anonymous connection token")
            }
        }
        self.state.withLock { state in
            state.connected = true
            state.user = user
            state.info = info
            state.expiresAt = expiresAt
        }
        self.registry.add(self)
        // Server-side subscriptions from the token; the client names the positions it had in `subs` to recover them.
        let known = params.object("subs")
        var prepared: [Prepared] = []
        var seen: Set<String> = []
        let limit = self.app.plan.maxSubscriptionsPerConnection
        for channel in channels where ChannelName.isValid(channel) && seen.insert(channel).inserted {
            // A token's channels meet the rules a client's subscribe meets: the plan's cap and the reserved namespaces.
            if let limit, prepared.count >= limit {
                self.report(.overQuota, "connection token names more than \(limit) channels: the rest are not subscribed")
                break
            }
            if let denial = ChannelAccess.denial(.subscribe, channel: channel) {
                self.report(.forbidden, "\(channel): \(denial)")
                continue
            }
            let position = known?.object(channel).flatMap { $0.bool("recover") == true ? Self.position($0) : nil }
            do {
                prepared.append(try await self.prepare(channel, serverSide: true, recoverable: true, recover: position, rejectUnrecovered: false))
            } catch {
                self.environment.logger.debug("server-side subscription refused", metadata: ["channel": "\(channel)", "error": "\(error)"])
            }
        }
        let now = WallClock.milliseconds() / 1000
        self.reply(
            JWTReply.result(id: id, "connect") { json in
                json.member("client", self.clientID)
                json.member("version", Self.version)
                Self.writeExpiry(expiresAt, now: now, to: &json)
                json.member("ping", self.pingInterval)
                json.key("pong")
                json.bool(true)
                if !prepared.isEmpty {
                    json.key("subs")
                    json.beginObject()
                    for item in prepared {
                        json.key(item.channel)
                        json.beginObject()
                        Self.writeResult(item, to: &json)
                        json.endObject()
                    }
                    json.endObject()
                }
            }
        )
        for item in prepared { self.finish(item) }
    }

    func refresh(id: Int64, _ params: JSONObject) {
        guard let token = params.string("token"), !token.isEmpty else {
            self.report(.badRequest, "refresh without a token")
            return self.reply(JWTReply.error(id: id, .badRequest))
        }
        let claims: HMACToken.Claims
        do {
            claims = try HMACToken.verify(token, secrets: self.currentSecrets, now: WallClock.milliseconds() / 1000)
        } catch .expired {
            self.report(.tokenExpired, "expired refresh token")
            return self.reply(JWTReply.error(id: id, .tokenExpired, temporary: true))
        } catch {
            return self.end(.invalidToken, kind: Self.kind(of: error), detail: "invalid refresh token: \(error)")
        }
        guard (claims.channel ?? "").isEmpty else {
            return self.end(.invalidToken, kind: .tokenInvalid, detail: "invalid refresh token: a subscription token (it has a channel claim)")
        }
        guard (claims.subject ?? "") == self.user else {
            return self.end(.invalidToken, kind: .tokenInvalid, detail: "refresh token for another user")
        }
        self.state.withLock { state in
            state.expiresAt = claims.grantExpiresAt
            // A new `info` is the connection's from now on (its publications, its next joins), as in Centrifugo.
            if let info = claims.info { state.info = info }
        }
        self.remember(.connection, claims)
        let now = WallClock.milliseconds() / 1000
        self.reply(
            JWTReply.result(id: id, "refresh") { json in
                json.member("client", self.clientID)
                json.member("version", Self.version)
                Self.writeExpiry(claims.grantExpiresAt, now: now, to: &json)
            }
        )
    }

    func subRefresh(id: Int64, _ params: JSONObject) {
        guard let channel = params.string("channel"), let token = params.string("token"), !token.isEmpty else {
            self.report(.badRequest, "sub_refresh without a channel and a token")
            return self.reply(JWTReply.error(id: id, .badRequest))
        }
        guard self.state.withLock({ $0.subscriptions[channel] != nil }) else {
            self.report(.forbidden, "\(channel): sub_refresh without a subscription")
            return self.reply(JWTReply.error(id: id, .permissionDenied))
        }
        let claims: HMACToken.Claims
        do {
            claims = try HMACToken.verify(token, secrets: self.currentSecrets, now: WallClock.milliseconds() / 1000)
        } catch .expired {
            self.report(.tokenExpired, "\(channel): expired subscription refresh token")
            return self.reply(JWTReply.error(id: id, .tokenExpired, temporary: true))
        } catch {
            return self.end(.invalidToken, kind: Self.kind(of: error), detail: "\(channel): invalid subscription token: \(error)")
        }
        guard claims.channel == channel, (claims.subject ?? "") == self.user else {
            return self.end(.invalidToken, kind: .tokenInvalid, detail: "\(channel): subscription token for another channel or user")
        }
        self.state.withLock { $0.subscriptions[channel]?.expiresAt = claims.grantExpiresAt }
        self.remember(.channel(channel), claims)
        let now = WallClock.milliseconds() / 1000
        self.reply(
            JWTReply.result(id: id, "sub_refresh") { json in
                Self.writeExpiry(claims.grantExpiresAt, now: now, to: &json)
            }
        )
    }

    // MARK: Subscriptions

    func subscribe(id: Int64, _ params: JSONObject) async {
        guard let channel = params.string("channel"), ChannelName.isValid(channel) else {
            self.report(.badRequest, "subscribe to an invalid channel name")
            return self.reply(JWTReply.error(id: id, .badRequest))
        }
        guard self.mayUse(channel, for: .subscribe, id: id) else { return }
        if let limit = self.app.plan.maxSubscriptionsPerConnection,
            self.state.withLock({ $0.subscriptions[channel] == nil && $0.subscriptions.count + $0.pending.count >= limit })
        {
            self.report(.overQuota, "\(channel): a connection may hold \(limit) subscriptions")
            return self.reply(JWTReply.error(id: id, .limitExceeded))
        }
        let busy = self.state.withLock { state -> Bool in
            if state.subscriptions[channel] != nil || state.pending.contains(channel) { return true }
            state.pending.insert(channel)
            return false
        }
        guard !busy else { return self.reply(JWTReply.error(id: id, .alreadySubscribed)) }
        defer { self.state.withLock { _ = $0.pending.remove(channel) } }
        var expiresAt: Int64?
        var channelInfo: ByteBuffer?
        let token = params.string("token").flatMap { $0.isEmpty ? nil : $0 }
        // A token sent is checked even where none is needed, as Centrifugo does: a forged or misdirected one fails.
        if self.app.policy(for: channel).requireToken || token != nil {
            guard let token else {
                self.report(.tokenInvalid, "\(channel): subscribe without a subscription token")
                return self.reply(JWTReply.error(id: id, .permissionDenied))
            }
            guard let claims = self.verify(token, id: id, for: .subscription(channel)) else { return }
            guard claims.channel == channel else {
                return self.end(.invalidToken, kind: .tokenInvalid, detail: "\(channel): subscription token is for \(claims.channel ?? "no channel")")
            }
            guard (claims.subject ?? "") == self.user else {
                return self.end(.invalidToken, kind: .tokenInvalid, detail: "\(channel): subscription token is for another user")
            }
            expiresAt = claims.grantExpiresAt
            channelInfo = claims.info
            self.remember(.channel(channel), claims)
        }
        let recover = params.bool("recover") == true ? Self.position(params) : nil
        // Only `recoverable` asks for recovery; `positioned` alone asks for the stream position, not for replays.
        let recoverable = params.bool("recoverable") == true
        let flag = params.integer("flag") ?? 0
        // Joins and leaves reach a subscription only when its client asks (`join_leave`), as Centrifugo's do.
        let quiet = params.bool("join_leave") != true
        if quiet { self.session.hearPresence(false, on: channel) }
        var prepared: Prepared
        do {
            prepared = try await self.prepare(
                channel,
                serverSide: false,
                recoverable: recoverable,
                recover: recover,
                rejectUnrecovered: flag & 2 != 0,
                channelInfo: channelInfo
            )
        } catch let code as JWTErrorCode {
            if quiet { self.session.hearPresence(true, on: channel) }
            return self.reply(JWTReply.error(id: id, code))
        } catch {
            if quiet { self.session.hearPresence(true, on: channel) }
            return self.reply(JWTReply.error(id: id, .internal))
        }
        prepared.expiresAt = expiresAt
        self.state.withLock { $0.subscriptions[channel]?.expiresAt = expiresAt }
        let now = WallClock.milliseconds() / 1000
        self.reply(
            JWTReply.result(id: id, "subscribe") { json in
                Self.writeResult(prepared, to: &json)
                Self.writeExpiry(expiresAt, now: now, to: &json)
            }
        )
        self.finish(prepared)
    }

    /// Subscribes on the bus, holding live messages back, and reads what recovery needs; `finish` delivers them.
    /// `channelInfo` is the subscription token's `info`, shown as the member's `chan_info` in presence.
    func prepare(
        _ channel: String,
        serverSide: Bool,
        recoverable: Bool,
        recover: StreamPosition?,
        rejectUnrecovered: Bool,
        channelInfo: ByteBuffer? = nil
    ) async throws
        -> Prepared
    {
        let policy = self.app.policy(for: channel)
        var prepared = Prepared(channel: channel)
        // A position the client asks to be refused when lost is checked before the bus subscribe, so the refused
        // client gets none of the channel's live messages (a broadcast may still be on its way after an unsubscribe).
        if rejectUnrecovered, let recover, policy.history.size > 0, !Self.recovers(recover, from: await self.recovery(channel, after: recover)) {
            throw JWTErrorCode.unrecoverablePosition
        }
        self.session.beginRecovery(channel: channel)
        do {
            try await self.bus.subscribe(self.session, app: self.app, channel: channel)
        } catch {
            self.session.finishRecovery(channel: channel, after: 0, history: [])
            throw self.refusal(error, channel: channel)
        }
        let joins = JWTPresence.joins(channel, app: self.app) && !(self.user ?? "").isEmpty
        self.state.withLock { $0.subscriptions[channel] = Subscription(serverSide: serverSide, expiresAt: nil, presence: joins) }
        if policy.history.size > 0 {
            prepared.positioned = true
            prepared.recoverable = recoverable || policy.forceRecovery
            // Starts a stream that has no message yet, so the epoch handed out names the run these offsets belong to.
            // Without recovery only the position is wanted: nothing is read (a read costs what it returns).
            let start = try? await self.bus.historyStartingStream(app: self.app, channel: channel, after: 0, limit: 0)
            var page = start
            if let recover, let read = await self.recovery(channel, after: recover), read.latest != nil { page = read }
            let latest = page?.latest ?? StreamPosition(offset: 0, epoch: "")
            prepared.position = latest
            prepared.replayAfter = latest.offset
            if let recover {
                prepared.wasRecovering = true
                if Self.recovers(recover, from: page) {
                    // As Centrifugo answers: what the client missed is in the reply, whose position is the stream's top
                    // (the page holds every publication up to it); live messages after it follow as pushes.
                    prepared.recovered = true
                    prepared.publications = page?.publications ?? []
                } else if rejectUnrecovered {
                    await self.leave(channel)
                    // Nothing held back since the bus subscribe goes out: the refused client is not subscribed.
                    self.session.finishRecovery(channel: channel, after: .max, history: [])
                    throw JWTErrorCode.unrecoverablePosition
                }
            }
        }
        if joins {
            let (user, info) = self.state.withLock { ($0.user, $0.info) }
            do {
                _ = try await self.bus.presenceJoin(
                    app: self.app,
                    channel: channel,
                    userID: user,
                    metadata: JWTPresence.metadata(client: self.clientID, info: info, channelInfo: channelInfo),
                    holder: .connection(self.session.connectionID)
                )
            } catch {
                // Presence lists every subscriber, so one it refuses (full, metadata over the limit) is not subscribed.
                await self.leave(channel)
                self.session.finishRecovery(channel: channel, after: .max, history: [])
                throw self.refusal(error, channel: channel)
            }
        }
        return prepared
    }

    /// What a recovery from `position` may replay: the newest publications after it within one past the count limit and
    /// half the connection's queue, so neither the read nor the replay grows with what the client missed.
    func recovery(_ channel: String, after position: StreamPosition) async -> HistoryPage? {
        try? await self.bus.replay(
            app: self.app,
            channel: channel,
            after: position.offset,
            count: Self.recoveryMaxPublicationLimit + 1,
            bytes: self.session.maxQueuedBytes / 2
        )
    }

    /// Whether `page` (the recovery read after `position.offset`) holds everything after `position`.
    ///
    /// Only the same epoch recovers: a missing stream, or an epoch another run of it had, means the client may have
    /// missed messages. Offsets go up by one per message, so a page cut to fit starts past the client's next offset.
    static func recovers(_ position: StreamPosition, from page: HistoryPage?) -> Bool {
        guard let page, let latest = page.latest, page.publications.count <= Self.recoveryMaxPublicationLimit else { return false }
        let next = page.publications.first.map { $0.position?.offset == position.offset + 1 } ?? (position.offset == latest.offset)
        return position.epoch == latest.epoch && !page.truncated && position.offset <= latest.offset && next
    }

    /// Delivers the live messages held back since `prepare` after the reply's position, with no gap and no duplicate.
    func finish(_ prepared: Prepared) {
        self.session.finishRecovery(
            channel: prepared.channel,
            after: prepared.replayAfter,
            history: [],
            sentThrough: prepared.publications.last?.position?.offset
        )
    }

    static func writeResult(_ prepared: Prepared, to json: inout JSONWriter) {
        if prepared.recoverable {
            json.key("recoverable")
            json.bool(true)
        }
        if prepared.positioned {
            json.key("positioned")
            json.bool(true)
            json.member("offset", prepared.position.offset)
            json.member("epoch", prepared.position.epoch)
        }
        if prepared.wasRecovering {
            json.key("was_recovering")
            json.bool(true)
            json.key("recovered")
            json.bool(prepared.recovered)
        }
        if !prepared.publications.isEmpty {
            json.key("publications")
            json.beginArray()
            for publication in prepared.publications { JWTEncoder.writePublication(publication, to: &json) }
            json.endArray()
        }
    }

    func unsubscribe(id: Int64, _ params: JSONObject) async {
        guard let channel = params.string("channel") else {
            self.report(.badRequest, "unsubscribe without a channel")
            return self.reply(JWTReply.error(id: id, .badRequest))
        }
        await self.leave(channel)
        self.reply(JWTReply.result(id: id, "unsubscribe"))
    }

    /// Drops a subscription and its presence membership.
    func leave(_ channel: String) async {
        guard let subscription = self.state.withLock({ $0.subscriptions.removeValue(forKey: channel) }) else { return }
        await self.bus.unsubscribe(self.session.connectionID, app: self.app.id, channel: channel)
        self.session.hearPresence(true, on: channel)
        if subscription.presence {
            _ = try? await self.bus.presenceLeave(
                app: self.app.id,
                channel: channel,
                userID: self.user ?? "",
                holder: .connection(self.session.connectionID)
            )
        }
    }

    // MARK: Publish, presence, history

    func publish(id: Int64, _ params: JSONObject) async {
        guard let channel = params.string("channel"), ChannelName.isValid(channel), let data = params.raw("data") else {
            self.report(.badRequest, "publish without a valid channel and data")
            return self.reply(JWTReply.error(id: id, .badRequest))
        }
        guard self.mayUse(channel, for: .publish, id: id) else { return }
        let policy = self.app.policy(for: channel)
        guard policy.clientPublish else {
            self.report(.forbidden, "\(channel): clients may not publish")
            return self.reply(JWTReply.error(id: id, .permissionDenied))
        }
        guard self.state.withLock({ $0.budget.take(.publish, now: Double(WallClock.milliseconds()) / 1000) }) else {
            self.report(.rateLimited, "\(channel): more than \(Int(self.environment.clientLimits.publishesPerSecond)) publishes per second")
            return self.reply(JWTReply.error(id: id, .tooManyRequests))
        }
        if policy.requireToken, self.state.withLock({ $0.subscriptions[channel] == nil }) {
            self.report(.forbidden, "\(channel): publish without a subscription")
            return self.reply(JWTReply.error(id: id, .permissionDenied))
        }
        let (user, info) = self.state.withLock { ($0.user, $0.info) }
        // Subscribers and history see who published, as Centrifugo shows it: this client's id and its token's `info`.
        let publication = Publication(
            app: self.app.id,
            channel: channel,
            data: data,
            userID: user.isEmpty ? nil : user,
            timestamp: WallClock.milliseconds(),
            clientID: self.clientID,
            connInfo: info
        )
        do {
            _ = try await self.bus.publish(publication, app: self.app, options: .via("jwt"))
        } catch {
            return self.reply(JWTReply.error(id: id, self.refusal(error, channel: channel)))
        }
        self.reply(JWTReply.result(id: id, "publish"))
    }

    /// Refuses (103, with a security event) what no client may do on a reserved channel, such as another user's
    /// `#server-to-user-` channel.
    func mayUse(_ channel: String, for action: ChannelAccess.Action, id: Int64) -> Bool {
        guard let denial = ChannelAccess.denial(action, channel: channel) else { return true }
        self.report(.forbidden, "\(channel): \(denial)")
        self.reply(JWTReply.error(id: id, .permissionDenied))
        return false
    }

    /// History and presence read what a subscriber sees: a reserved channel's (a user's private messages) as a
    /// subscribe would be refused, a token-only channel's only while subscribed.
    func mayRead(_ channel: String, id: Int64) -> Bool {
        guard ChannelName.isValid(channel) else {
            self.report(.badRequest, "read of an invalid channel name")
            self.reply(JWTReply.error(id: id, .badRequest))
            return false
        }
        guard self.mayUse(channel, for: .subscribe, id: id) else { return false }
        if self.app.policy(for: channel).requireToken, self.state.withLock({ $0.subscriptions[channel] == nil }) {
            self.report(.forbidden, "\(channel): read without a subscription")
            self.reply(JWTReply.error(id: id, .permissionDenied))
            return false
        }
        return true
    }

    func presence(id: Int64, _ params: JSONObject, stats: Bool) async {
        let channel = params.string("channel") ?? ""
        guard self.mayRead(channel, id: id) else { return }
        guard self.app.policy(for: channel).presence else { return self.reply(JWTReply.error(id: id, .notAvailable)) }
        guard let members = try? await self.bus.members(app: self.app.id, channel: channel) else {
            return self.reply(JWTReply.error(id: id, .internal))
        }
        if stats {
            self.reply(
                JWTReply.result(id: id, "presence_stats") { json in
                    JWTPresence.writeStats(members, to: &json)
                }
            )
        } else {
            self.reply(
                JWTReply.result(id: id, "presence") { json in
                    json.key("presence")
                    JWTPresence.write(members, to: &json)
                }
            )
        }
    }

    func history(id: Int64, _ params: JSONObject) async {
        let channel = params.string("channel") ?? ""
        guard self.mayRead(channel, id: id) else { return }
        // A negative limit ("everything") or one past the cap gets the cap, as Centrifugo's client history does.
        var limit = params.integer("limit") ?? 0
        if limit < 0 || limit > Self.historyMaxPublicationLimit { limit = Self.historyMaxPublicationLimit }
        do {
            let result = try await JWTHistory.query(
                bus: self.bus,
                app: self.app,
                channel: channel,
                limit: min(limit, Int64(self.app.plan.historySize)),
                since: params.object("since").map { Self.position($0) },
                reverse: params.bool("reverse") ?? false,
                bytes: self.session.maxQueuedBytes / 2
            )
            self.reply(JWTReply.result(id: id, "history") { json in result.write(to: &json) })
        } catch {
            self.reply(JWTReply.error(id: id, error))
        }
    }

    // MARK: Timers and the server API

    /// Sends the periodic ping and ends connections whose token expired without a refresh or that stopped answering.
    public func tick(now: Int64 = WallClock.milliseconds()) {
        enum Action {
            case none, ping
            case end(JWTDisconnect)
        }
        let grace = self.environment.clientLimits.tokenExpiryGraceSeconds
        let action = self.state.withLock { state -> Action in
            guard state.disconnect == nil else { return .none }
            guard state.connected else { return now - state.openedAt > Self.staleMilliseconds ? .end(.stale) : .none }
            // A token is honoured `token_expiry_grace_seconds` past its `exp` while the client fetches the next one.
            let seconds = now / 1000 - grace
            if let exp = state.expiresAt, seconds >= exp { return .end(.expired) }
            if state.subscriptions.values.contains(where: { $0.expiresAt.map { seconds >= $0 } ?? false }) {
                return .end(.subscriptionExpired)
            }
            if let since = state.awaitingPongSince, now - since > Self.pongTimeoutMilliseconds { return .end(.noPong) }
            guard now - state.lastPingAt >= self.pingInterval * 1000 else { return .none }
            state.lastPingAt = now
            if state.awaitingPongSince == nil { state.awaitingPongSince = now }
            return .ping
        }
        switch action {
        case .none: return
        case .ping: self.reply(JWTReply.ping)
        case .end(let reason): self.disconnect(reason)
        }
    }

    /// Ends the connection with `reason` (the shell closes the WebSocket with its code).
    public func disconnect(_ reason: JWTDisconnect) {
        self.state.withLock { state in
            if state.disconnect == nil { state.disconnect = reason }
        }
        self.session.close(.normal)
    }

    /// Sets when the connection expires (server API `refresh`): at `expireAt` (Unix seconds), or never when nil; a time
    /// already past ends it as expired now. The client is told with a `refresh` push (`expires`, `ttl`), as Centrifugo
    /// tells it, so its own refresh timer follows.
    func serverRefresh(expireAt: Int64?) {
        let now = WallClock.milliseconds() / 1000
        if let expireAt, expireAt <= now { return self.disconnect(.expired) }
        self.state.withLock { $0.expiresAt = expireAt }
        var json = JSONWriter(capacity: 64)
        json.beginObject()
        json.key("push")
        json.beginObject()
        json.key("refresh")
        json.beginObject()
        Self.writeExpiry(expireAt, now: now, to: &json)
        json.endObject()
        json.endObject()
        json.endObject()
        self.reply(json.buffer)
    }

    /// Adds a server-side subscription (server API `subscribe`) and tells the client with a `subscribe` push.
    func serverSubscribe(_ channel: String, data: ByteBuffer? = nil) async throws {
        guard self.state.withLock({ $0.subscriptions[channel] == nil }) else { return }
        let prepared = try await self.prepare(channel, serverSide: true, recoverable: true, recover: nil, rejectUnrecovered: false)
        self.reply(
            JWTReply.push(channel: channel, "subscribe") { json in
                Self.writeResult(prepared, to: &json)
                // The server API's `data` reaches the client with the push, as Centrifugo's subscribe push carries it.
                if let data {
                    json.key("data")
                    json.raw(data)
                }
            }
        )
        self.finish(prepared)
    }

    /// Removes a subscription (server API `unsubscribe`) and tells the client with an `unsubscribe` push.
    func serverUnsubscribe(_ channel: String) async {
        guard self.state.withLock({ $0.subscriptions[channel] != nil }) else { return }
        await self.leave(channel)
        self.reply(
            JWTReply.push(channel: channel, "unsubscribe") { json in
                json.member("code", 2000)
                json.member("reason", "server unsubscribe")
            }
        )
    }

    /// `expires` and `ttl` (seconds left, at least 1) of a grant that ends at `expiresAt`; nothing for one that never does.
    static func writeExpiry(_ expiresAt: Int64?, now: Int64, to json: inout JSONWriter) {
        guard let expiresAt else { return }
        json.key("expires")
        json.bool(true)
        json.member("ttl", max(1, expiresAt - now))
    }

    /// Leaves every channel and presence set; called once when the connection ends.
    public func closed() async {
        self.registry.remove(self)
        for channel in self.channels { await self.leave(channel) }
    }

    // MARK: Tokens, replies and refusals

    /// What a token is presented for, which decides what an invalid one costs.
    enum TokenUse {
        /// A connection token: an invalid one ends the connection (3500), as does one with a `channel` claim.
        case connection
        /// A subscription token for the channel: an invalid one, or one without a `channel` claim, only refuses the
        /// subscribe (103), as Centrifugo does; a valid one for another channel or user is the caller's to judge.
        case subscription(String)
    }

    /// Verifies a token; on failure answers (109 for expired, 103 for a subscription token) or ends the connection
    /// (3500), reports, and returns nil.
    func verify(_ token: String, id: Int64, for use: TokenUse) -> HMACToken.Claims? {
        let what: String
        switch use {
        case .connection: what = "connection token"
        case .subscription(let channel): what = "\(channel): subscription token"
        }
        let claims: HMACToken.Claims
        let now = WallClock.milliseconds() / 1000
        do throws(HMACToken.Failure) {
            claims = try HMACToken.verify(token, secrets: self.currentSecrets, now: now)
            // A grant whose `expire_at` has passed is answered as an expired token, as Centrifugo does.
            if let end = claims.grantExpiresAt, end <= now { throw HMACToken.Failure.expired }
        } catch .expired {
            self.report(.tokenExpired, "expired \(what)")
            self.reply(JWTReply.error(id: id, .tokenExpired))
            return nil
        } catch {
            self.refuseToken(use, id: id, kind: Self.kind(of: error), detail: "invalid \(what): \(error)")
            return nil
        }
        let channelClaim = !(claims.channel ?? "").isEmpty
        switch use {
        case .connection where channelClaim:
            self.refuseToken(use, id: id, kind: .tokenInvalid, detail: "invalid \(what): a subscription token (it has a channel claim)")
            return nil
        case .subscription where !channelClaim:
            self.refuseToken(use, id: id, kind: .tokenInvalid, detail: "invalid \(what): no channel claim")
            return nil
        default:
            return claims
        }
    }

    /// Reports an invalid token and refuses it as its use says: the connection ends, or the subscribe gets 103.
    private func refuseToken(_ use: TokenUse, id: Int64, kind: SecurityEvent.Kind, detail: String) {
        switch use {
        case .connection:
            self.end(.invalidToken, kind: kind, detail: detail)
        case .subscription:
            self.report(kind, detail)
            self.reply(JWTReply.error(id: id, .permissionDenied))
        }
    }

    static func kind(of failure: HMACToken.Failure) -> SecurityEvent.Kind {
        switch failure {
        case .badSignature: .badSignature
        case .expired: .tokenExpired
        case .malformed, .unsupportedAlgorithm: .tokenInvalid
        }
    }

    static func position(_ object: JSONObject) -> StreamPosition {
        StreamPosition(offset: UInt64(max(0, object.integer("offset") ?? 0)), epoch: object.string("epoch") ?? "")
    }

    func reply(_ frame: ByteBuffer) { self.session.send(frame) }

    /// Records a refusal; a client refused `[limits] max_refusals` times in quick succession is disconnected (3013).
    func report(_ kind: SecurityEvent.Kind, _ detail: String) {
        self.environment.gate.report(kind, app: self.app.id, caller: self.caller, detail: detail, connection: self.session.connectionID)
        if !self.state.withLock({ $0.budget.take(.refusal, now: Double(WallClock.milliseconds()) / 1000) }) {
            self.disconnect(.tooManyRequests)
        }
    }

    /// Reports and ends the connection with `reason`.
    func end(_ reason: JWTDisconnect, kind: SecurityEvent.Kind, detail: String) {
        self.report(kind, detail)
        self.disconnect(reason)
    }

    /// The client error for a bus refusal, reporting the ones that are security events.
    func refusal(_ error: any Error, channel: String) -> JWTErrorCode {
        switch error as? BusError {
        case .channelLimit:
            self.report(.overQuota, "\(channel): channel limit")
            return .limitExceeded
        case .connectionLimit:
            self.report(.overQuota, "\(channel): connection limit")
            return .limitExceeded
        case .messageTooLarge(let limit):
            self.report(.messageTooLarge, "\(channel): message over \(limit) bytes")
            return .limitExceeded
        case .rateLimited:
            self.report(.rateLimited, "\(channel): publish rate exhausted")
            return .tooManyRequests
        case .monthlyQuota(let limit):
            self.report(.overQuota, "\(channel): monthly quota of \(limit) messages used up")
            return .limitExceeded
        case .invalidChannel, .invalidEventName: return .badRequest
        case .presenceNotAllowed: return .notAvailable
        case .presenceFull(let limit):
            self.report(.overQuota, "\(channel): presence full at \(limit) members")
            return .limitExceeded
        case .metadataTooLarge(let limit):
            self.report(.messageTooLarge, "\(channel): presence metadata over \(limit) bytes")
            return .limitExceeded
        case .kitRefused(let refusal):
            self.report(refusal.securityKind, "\(channel): \(refusal.message)")
            switch refusal.reason {
            case .rateLimited: return .tooManyRequests
            case .payloadTooLarge: return .limitExceeded
            case .identityMismatch: return .permissionDenied
            case .invalidTransition, .plaintextRefused, .invalidPayload: return .badRequest
            }
        case nil: return (error as? JWTErrorCode) ?? .internal
        }
    }
}
