public import NIOCore
public import SwitchboardAdapterKit
import SwitchboardCore
import Synchronization

/// One JSON-action client connection: runs its commands against the bus and queues replies on its session.
///
/// Every refusal is an `error` frame on this connection only (plus a security event); the connection
/// stays open and no other subscriber sees anything, until it has been refused `[limits] max_refusals` times
/// in quick succession: then it is closed with 1008. Every frame is charged to the connection's `ClientBudget`.
public final class JSONActionConnection: Sendable {
    /// What a channel token allowed on a channel.
    struct Grant: Sendable {
        var userID: String?
        var permissions: [String]?
        /// The key that signed the token and its `exp` (seconds): the grant ends with either (JSONActionConnection+Expiry).
        var signer: KeyFingerprint?
        var expiresAt: Int64?

        func allows(_ permission: String) -> Bool { self.permissions?.contains(permission) ?? true }
    }

    struct State: Sendable {
        var channels: Set<String> = []
        var grants: [String: Grant] = [:]
        /// Presence memberships held by this connection: channel to user id.
        var presence: [String: String] = [:]
        /// Presence joins on channels the connection did not subscribe to, each holding its channel in the plan's count.
        var heldChannels: Set<String> = []
        var budget: ClientBudget
        /// Expiry checks are scheduled: they run only while the connection holds a grant that expires.
        var checkingExpiry = false
    }

    /// The connection's outbound queue and bus identity.
    public let session: Session
    /// The client id sent in `connected`.
    public let clientID: String
    let environment: AdapterEnvironment
    let caller: Caller
    let state: Mutex<State>
    /// Starts the once-a-second expiry checks when the connection takes its first grant that expires (the transport's
    /// timer; see `continueExpiryChecks`). An idle connection without such a grant has no timer at all.
    let startExpiryChecks: @Sendable (JSONActionConnection) -> Void

    /// The app as the registry has it now, so admin and SIGHUP changes (channel rules, limits) reach open connections.
    var app: App { self.bus.apps.app(id: self.session.app.id) ?? self.session.app }
    var bus: Bus { self.environment.bus }

    /// Creates the connection for an admitted session.
    public init(
        session: Session,
        clientID: String,
        environment: AdapterEnvironment,
        caller: Caller,
        startExpiryChecks: @escaping @Sendable (JSONActionConnection) -> Void = { _ in }
    ) {
        self.startExpiryChecks = startExpiryChecks
        self.session = session
        self.clientID = clientID
        self.environment = environment
        self.caller = caller
        self.state = Mutex(State(budget: ClientBudget(environment.limits, now: MonotonicClock.seconds())))
    }

    /// Takes one `spend` from the connection's budget.
    func take(_ spend: ClientBudget.Spend) -> Bool {
        self.state.withLock { $0.budget.take(spend, now: MonotonicClock.seconds()) }
    }

    /// Handles one text frame from the client.
    public func receive(_ frame: ByteBuffer) async {
        guard self.session.end == nil else { return }
        let withinRate = self.take(.command)
        // Past the rate only a subscribe may go on (a reconnecting client resubscribes every channel at once): a frame
        // too large to be one is refused unread.
        guard withinRate || frame.readableBytes <= ClientBudget.largestSubscribeFrame else { return self.refuseRate() }
        guard frame.readableBytes <= self.app.plan.maxMessageBytes + 4096 else {
            self.refuse(.messageTooLarge, "frame of \(frame.readableBytes) bytes is over the limit", kind: .messageTooLarge)
            return
        }
        let command: JSONActionCommand
        do {
            command = try JSONActionCommand(parsing: frame)
        } catch {
            guard withinRate else { return self.refuseRate() }
            self.refuse(.badRequest, error.message, channel: error.channel, kind: .badRequest)
            return
        }
        if !withinRate {
            guard case .subscribe(let channel, _, _) = command else { return self.refuseRate() }
            guard self.take(.subscribe) else { return self.refuseRate(channel: channel) }
        }
        await self.run(command)
    }

    /// A frame past `commands_per_second` (a subscribe: past `subscribe_burst` too, and its channel is named).
    func refuseRate(channel: String? = nil) {
        let rate = Int(self.environment.clientLimits.commandsPerSecond)
        self.refuse(.rateLimited, "more than \(rate) commands per second", channel: channel, kind: .rateLimited)
    }

    /// A message over the transport's limit, dropped unread: refused like one over the plan's, and the connection goes
    /// on (repeated refusals close it, as any others do).
    public func receiveOversized(limit: Int) {
        guard self.session.end == nil else { return }
        guard self.take(.command) else { return self.refuseRate() }
        self.refuse(.messageTooLarge, "message over \(limit) bytes", kind: .messageTooLarge)
    }

    func run(_ command: JSONActionCommand) async {
        switch command {
        case .ping:
            self.session.send(JSONActionReply.pong())
        case .subscribe(let channel, let token, let lastEventID):
            await self.subscribe(channel, token: token, lastEventID: lastEventID)
        case .unsubscribe(let channel):
            await self.unsubscribe(channel)
        case .publish(let channel, let data, let userID, let token, let name):
            await self.publish(channel, data: data, userID: userID, token: token, name: name)
        case .presenceJoin(let channel, let userID, let metadata):
            await self.presenceJoin(channel, userID: userID, metadata: metadata)
        case .presenceUpdate(let channel, let userID, let metadata):
            await self.presenceUpdate(channel, userID: userID, metadata: metadata)
        case .presenceLeave(let channel, _):
            await self.presenceLeave(channel)
        }
    }

    // MARK: Commands

    func subscribe(_ channel: String, token: String?, lastEventID: UInt64?) async {
        guard ChannelName.isValid(channel) else { return self.refuse(.badRequest, "invalid channel name", channel: channel, kind: .badRequest) }
        if let denial = ChannelAccess.denial(.subscribe, channel: channel) {
            return self.refuse(.forbidden, denial, channel: channel, kind: .forbidden)
        }
        guard let grant = self.authorize(channel, token: token, permission: "subscribe") else { return }
        let start = self.state.withLock { state -> Bool in
            state.grants[channel] = grant
            guard grant.expiresAt != nil, !state.checkingExpiry else { return false }
            state.checkingExpiry = true
            return true
        }
        if start { self.startExpiryChecks(self) }
        // Subscribing again keeps the one subscription (messages arrive once) and is answered like the first time: a
        // `lastEventId` then replays what followed it, as a client catching up on a channel it holds expects.
        let already = self.state.withLock { $0.channels.contains(channel) }
        if !already, let limit = self.app.plan.maxSubscriptionsPerConnection,
            self.state.withLock({ $0.channels.union($0.presence.keys).subtracting([channel]).count }) >= limit
        {
            return self.refuse(.channelLimit, "a connection may hold \(limit) subscriptions", channel: channel, kind: .overQuota)
        }
        if lastEventID != nil { self.session.beginRecovery(channel: channel) }
        if !already {
            do {
                try await self.bus.subscribe(self.session, app: self.app, channel: channel)
            } catch {
                self.session.finishRecovery(channel: channel, after: 0, history: [])
                return self.refuse(error, channel: channel)
            }
            self.state.withLock { _ = $0.channels.insert(channel) }
        }
        let members = self.app.policy(for: channel).presence ? (try? await self.bus.members(app: self.app.id, channel: channel)) ?? [] : []
        // The channel's position, so a client that reconnects before its first message can still resume from here.
        let latest = try? await self.bus.history(app: self.app, channel: channel, after: nil, limit: 0).latest?.offset
        self.session.send(JSONActionReply.subscribed(channel: channel, seq: latest, members: members))
        guard let lastEventID else { return }
        // A client ahead of the stream saw another run of it (a reset, a new epoch): everything kept is new to it.
        let after = latest.map { lastEventID > $0 ? 0 : lastEventID } ?? lastEventID
        await self.session.catchUp(channel: channel, after: after, through: latest ?? after, bus: self.bus, app: self.app)
    }

    func unsubscribe(_ channel: String) async {
        let wasSubscribed = self.state.withLock { $0.channels.remove(channel) != nil }
        if wasSubscribed { await self.bus.unsubscribe(self.session.connectionID, app: self.app.id, channel: channel) }
        await self.presenceLeave(channel)
        self.session.send(JSONActionReply.unsubscribed(channel: channel))
    }

    func publish(_ channel: String, data: ByteBuffer, userID: String?, token: String?, name: String?) async {
        guard ChannelName.isValid(channel) else { return self.refuse(.badRequest, "invalid channel name", channel: channel, kind: .badRequest) }
        if let denial = ChannelAccess.denial(.publish, channel: channel) {
            return self.refuse(.forbidden, denial, channel: channel, kind: .forbidden)
        }
        let policy = self.app.policy(for: channel)
        guard policy.clientPublish else {
            return self.refuse(.forbidden, "clients may not publish on \(channel)", channel: channel, kind: .forbidden)
        }
        guard self.take(.publish) else {
            let rate = Int(self.environment.clientLimits.publishesPerSecond)
            return self.refuse(.rateLimited, "a connection may publish \(rate) times per second", channel: channel, kind: .rateLimited)
        }
        var publisher = userID
        if policy.requireToken {
            let known = self.state.withLock { $0.grants[channel] }
            let grant: Grant
            if let token {
                guard let verified = self.authorize(channel, token: token, permission: "publish") else { return }
                grant = verified
            } else if let known {
                guard known.allows("publish") else {
                    return self.refuse(.forbidden, "the channel token does not allow publish", channel: channel, kind: .forbidden)
                }
                grant = known
            } else {
                return self.refuse(.unauthorized, "publishing on \(channel) needs a channel token", channel: channel, kind: .tokenInvalid)
            }
            if let subject = grant.userID, !subject.isEmpty {
                if let userID, userID != subject {
                    return self.refuse(.forbidden, "userId does not match the token", channel: channel, kind: .forbidden)
                }
                publisher = subject
            }
        }
        let publication = Publication(
            app: self.app.id,
            channel: channel,
            event: name,
            data: data,
            userID: publisher,
            sender: self.session.connectionID,
            timestamp: WallClock.milliseconds()
        )
        do {
            _ = try await self.bus.publish(publication, app: self.app, options: .via("jsonaction"))
        } catch {
            self.refuse(error, channel: channel)
        }
    }

    func presenceJoin(_ channel: String, userID: String, metadata: ByteBuffer) async {
        guard ChannelName.isValid(channel) else { return self.refuse(.badRequest, "invalid channel name", channel: channel, kind: .badRequest) }
        if self.app.policy(for: channel).requireToken {
            guard let grant = self.state.withLock({ $0.grants[channel] }) else {
                return self.refuse(.unauthorized, "subscribe with a channel token before joining \(channel)", channel: channel, kind: .tokenInvalid)
            }
            if let subject = grant.userID, !subject.isEmpty, subject != userID {
                return self.refuse(.forbidden, "userId does not match the token", channel: channel, kind: .forbidden)
            }
        }
        let (previous, subscribed) = self.state.withLock { ($0.presence[channel], $0.channels.contains(channel)) }
        if let previous, previous != userID {
            return self.refuse(.badRequest, "this connection already joined \(channel) as another user", channel: channel, kind: .badRequest)
        }
        guard userID.utf8.count <= 200, !userID.isEmpty else {
            return self.refuse(.badRequest, "userId must be 1 to 200 bytes", channel: channel, kind: .badRequest)
        }
        if let denial = ChannelAccess.denial(.subscribe, channel: channel) {
            return self.refuse(.forbidden, denial, channel: channel, kind: .forbidden)
        }
        // A join holds state like a subscription does: it counts against the connection's cap and needs room in the plan.
        if previous == nil, !subscribed {
            let held = self.state.withLock { $0.channels.union($0.presence.keys).count }
            if let limit = self.app.plan.maxSubscriptionsPerConnection, held >= limit {
                return self.refuse(.channelLimit, "a connection may hold \(limit) channels", channel: channel, kind: .overQuota)
            }
            do {
                try self.bus.holdChannel(app: self.app, channel: channel)
            } catch {
                return self.refuse(error, channel: channel)
            }
            self.state.withLock { _ = $0.heldChannels.insert(channel) }
        }
        do {
            _ = try await self.bus.presenceJoin(
                app: self.app,
                channel: channel,
                userID: userID,
                metadata: metadata,
                holder: .connection(self.session.connectionID)
            )
            self.state.withLock { $0.presence[channel] = userID }
        } catch {
            self.releaseHold(channel)
            self.refuse(error, channel: channel)
        }
    }

    func presenceUpdate(_ channel: String, userID: String?, metadata: ByteBuffer) async {
        guard let member = self.state.withLock({ $0.presence[channel] }) else {
            return self.refuse(.badRequest, "join \(channel) before updating presence", channel: channel, kind: .badRequest)
        }
        if let userID, userID != member {
            return self.refuse(.forbidden, "a connection may only update its own member", channel: channel, kind: .forbidden)
        }
        guard self.take(.presenceUpdate) else {
            let rate = self.environment.clientLimits.presenceUpdatesPerSecond
            return self.refuse(.rateLimited, "a connection may update presence \(rate) times per second", channel: channel, kind: .rateLimited)
        }
        do {
            _ = try await self.bus.presenceUpdate(app: self.app, channel: channel, userID: member, metadata: metadata)
        } catch {
            self.refuse(error, channel: channel)
        }
    }

    func presenceLeave(_ channel: String) async {
        guard let member = self.state.withLock({ $0.presence.removeValue(forKey: channel) }) else { return }
        self.releaseHold(channel)
        _ = try? await self.bus.presenceLeave(app: self.app.id, channel: channel, userID: member, holder: .connection(self.session.connectionID))
    }

    /// Leaves every channel and presence set; called once when the connection ends.
    public func closed() async {
        let (channels, presence, held) = self.state.withLock { state in
            defer {
                state.channels = []
                state.presence = [:]
                state.grants = [:]
                state.heldChannels = []
            }
            return (state.channels, state.presence, state.heldChannels)
        }
        for channel in held { self.bus.releaseChannel(app: self.app.id, channel: channel) }
        for channel in channels { await self.bus.unsubscribe(self.session.connectionID, app: self.app.id, channel: channel) }
        for (channel, member) in presence {
            _ = try? await self.bus.presenceLeave(app: self.app.id, channel: channel, userID: member, holder: .connection(self.session.connectionID))
        }
    }

    /// Gives back the plan's count a presence-only join took on `channel`, if it took one.
    func releaseHold(_ channel: String) {
        guard self.state.withLock({ $0.heldChannels.remove(channel) != nil }) else { return }
        self.bus.releaseChannel(app: self.app.id, channel: channel)
    }

    // MARK: Authorization and refusals

    /// Checks a channel token for `permission`; public channels need none. Reports and returns nil on refusal.
    func authorize(_ channel: String, token: String?, permission: String) -> Grant? {
        guard self.app.policy(for: channel).requireToken else { return Grant(userID: nil, permissions: nil) }
        guard let token, !token.isEmpty else {
            self.refuse(.unauthorized, "\(channel) needs a channel token", channel: channel, kind: .tokenInvalid)
            return nil
        }
        let claims: HMACToken.Claims
        do {
            claims = try HMACToken.verify(token, secrets: self.currentSecrets, now: WallClock.milliseconds() / 1000)
        } catch .expired {
            self.refuse(.unauthorized, "the channel token has expired", channel: channel, kind: .tokenExpired)
            return nil
        } catch {
            self.refuse(.unauthorized, "invalid channel token", channel: channel, kind: .tokenInvalid)
            return nil
        }
        guard claims.channel == channel else {
            self.refuse(.forbidden, "the token is for another channel", channel: channel, kind: .forbidden)
            return nil
        }
        let grant = Grant(userID: claims.subject, permissions: claims.permissions, signer: claims.signer, expiresAt: claims.expiresAt)
        guard grant.allows(permission) else {
            self.refuse(.forbidden, "the channel token does not allow \(permission)", channel: channel, kind: .forbidden)
            return nil
        }
        return grant
    }

    func refuse(_ code: JSONActionErrorCode, _ message: String, channel: String? = nil, kind: SecurityEvent.Kind) {
        guard self.session.end == nil else { return }
        self.session.send(JSONActionReply.error(code, message, channel: channel))
        self.environment.gate.report(
            kind,
            app: self.app.id,
            caller: self.caller,
            detail: channel.map { "\($0): \(message)" } ?? message,
            connection: self.session.connectionID
        )
        guard self.take(.refusal) else {
            self.session.close(.policyViolation, farewell: JSONActionReply.error(.badRequest, "too many refused commands; closing the connection"))
            return
        }
    }

    func refuse(_ error: any Error, channel: String) {
        switch error as? BusError {
        case .channelLimit(let limit):
            self.refuse(.channelLimit, "the app's plan allows \(limit) channels", channel: channel, kind: .overQuota)
        case .messageTooLarge(let limit):
            self.refuse(.messageTooLarge, "messages are limited to \(limit) bytes", channel: channel, kind: .messageTooLarge)
        case .rateLimited:
            self.refuse(.rateLimited, "the app's publish rate is exhausted", channel: channel, kind: .rateLimited)
        case .monthlyQuota(let limit):
            self.refuse(JSONActionErrorCode(name: "over_quota"), BusError.monthlyQuota(limit: limit).message, channel: channel, kind: .overQuota)
        case .invalidChannel:
            self.refuse(.badRequest, "invalid channel name", channel: channel, kind: .badRequest)
        case .invalidEventName:
            self.refuse(.badRequest, EventName.rule, channel: channel, kind: .badRequest)
        case .presenceNotAllowed:
            self.refuse(.forbidden, "presence is not enabled on \(channel)", channel: channel, kind: .forbidden)
        case .connectionLimit(let limit):
            self.refuse(.forbidden, "the app's plan allows \(limit) connections", channel: channel, kind: .overQuota)
        case .presenceFull(let limit):
            self.refuse(.channelLimit, "\(channel) already has \(limit) members", channel: channel, kind: .overQuota)
        case .metadataTooLarge(let limit):
            self.refuse(.messageTooLarge, "presence metadata is limited to \(limit) bytes", channel: channel, kind: .messageTooLarge)
        case .kitRefused(let refusal):
            self.refuse(JSONActionErrorCode(name: refusal.errorCode), refusal.message, channel: channel, kind: refusal.securityKind)
        case nil:
            self.session.send(JSONActionReply.error(.badRequest, "internal error", channel: channel))
        }
    }
}
