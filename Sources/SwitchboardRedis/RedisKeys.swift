/// Where Switchboard keeps things in Redis, all under one prefix so several clusters can share a server.
///
/// A channel is named `<app length>:<app>:<channel>` (the length keeps `a:b` + `c` apart from `a` + `b:c`):
///
/// | key | type | holds |
/// |---|---|---|
/// | `P:meta:ID` | hash | `e` the epoch, `s` the last offset given out |
/// | `P:messageless:APP` | sorted set | meta keys of the app's streams a read started that have no message yet, oldest lowest |
/// | `P:stream:ID` | stream | history: entry id `<offset>-0`, fields `d` (publication body) and `t` (ms timestamp) |
/// | `P:history:total` | string | bytes every stream's kept entries hold together (field values), held under `max_history_mb` |
/// | `P:history:apps` | sorted set | each app's `P:history:streams:APP` key, scored by the bytes its streams keep |
/// | `P:history:streams:APP` | sorted set | the app's stream keys, scored by the bytes each keeps |
/// | `P:history:expiry` | sorted set | `<length>:<streams key><stream key>`, scored by when the stream's key expires (ms) |
/// | `P:topic:ID` | pub/sub channel | publications and presence changes of the channel |
/// | `P:idempotency:N:ID:KEY` | hash | a publish's idempotency key (`N` the length of `ID`): `e` epoch and `s` offset it was given (`e` empty without history), expiring with the key's window |
/// | `P:presence:m:ID` | hash | user id → `<lastSeen>:<metadata JSON>` |
/// | `P:presence:h:ID` | sorted set | `<holder>\0<user id>` scored by when the holder was last heard of (ms) |
/// | `P:presence:c:ID` | hash | user id → how many holders it has |
/// | `P:presence:j:ID` | hash | `<holder>\0<user id>` → the metadata that holder joined with |
/// | `P:presence:channels` | set | channel names (as above) that have presence, for the expiry sweep |
/// | `P:occupancy:APP` | set | nodes that reported subscribers of the app (`APP` is `<length>:<app>`) |
/// | `P:occupancy:APP:NODE` | hash | channel → that node's subscribers, expiring unless the node reports again |
public struct RedisKeys: Sendable {
    /// The prefix, `switchboard` by default.
    public let prefix: String

    /// Creates the layout for `prefix`.
    public init(prefix: String) { self.prefix = prefix }

    /// The channel's name in keys.
    public func channelID(app: String, channel: String) -> String { "\(app.utf8.count):\(app):\(channel)" }

    /// The app and channel a `channelID` names.
    public static func parse(channelID: String) -> (app: String, channel: String)? {
        guard let colon = channelID.firstIndex(of: ":"), let length = Int(channelID[..<colon]) else { return nil }
        let rest = channelID.utf8[channelID.utf8.index(after: colon)...]
        guard rest.count > length, rest[rest.index(rest.startIndex, offsetBy: length)] == UInt8(ascii: ":") else { return nil }
        let appEnd = rest.index(rest.startIndex, offsetBy: length)
        guard let app = String(rest[rest.startIndex..<appEnd]), let channel = String(rest[rest.index(after: appEnd)...]) else { return nil }
        return (app, channel)
    }

    func meta(_ id: String) -> String { "\(self.prefix):meta:\(id)" }
    func stream(_ id: String) -> String { "\(self.prefix):stream:\(id)" }
    func messageless(app: String) -> String { "\(self.prefix):messageless:\(app.utf8.count):\(app)" }
    var historyTotal: String { "\(self.prefix):history:total" }
    var historyApps: String { "\(self.prefix):history:apps" }
    func historyStreams(app: String) -> String { "\(self.prefix):history:streams:\(app.utf8.count):\(app)" }
    var historyExpiry: String { "\(self.prefix):history:expiry" }
    /// The history ledger's keys for `app`, in the order the scripts take them (RedisScripts+ledger).
    func ledger(app: String) -> [String] { [self.historyTotal, self.historyApps, self.historyStreams(app: app), self.historyExpiry] }
    func topic(_ id: String) -> String { "\(self.prefix):topic:\(id)" }
    func idempotency(_ id: String, key: String) -> String { "\(self.prefix):idempotency:\(id.utf8.count):\(id):\(key)" }
    func presenceMembers(_ id: String) -> String { "\(self.prefix):presence:m:\(id)" }
    func presenceHolders(_ id: String) -> String { "\(self.prefix):presence:h:\(id)" }
    func presenceCounts(_ id: String) -> String { "\(self.prefix):presence:c:\(id)" }
    func presenceJoined(_ id: String) -> String { "\(self.prefix):presence:j:\(id)" }
    var presenceChannels: String { "\(self.prefix):presence:channels" }
    func occupancyNodes(app: String) -> String { "\(self.prefix):occupancy:\(app.utf8.count):\(app)" }
    func occupancyHashPrefix(app: String) -> String { "\(self.prefix):occupancy:\(app.utf8.count):\(app):" }
}
