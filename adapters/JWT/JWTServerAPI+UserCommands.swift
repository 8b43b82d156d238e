import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore

/// The server API's calls on a user's connections (`subscribe`, `unsubscribe`, `disconnect`, `refresh`). The user's
/// connections may be held by any node, so the node that takes the call carries it out on its own connections, then
/// sends it to the others (as Centrifugo does through its broker), which carry it out on theirs.
extension JWTServerAPI {
    /// The kind of node command these calls travel as: `{"app": …, "method": …, "params": <the call's body>}`.
    static let userCommand = "jwt.user"

    /// Carries out `method` here (a malformed call or a refusal here is the caller's answer, and goes no further), then on
    /// every other node.
    func runOnEveryNode(_ method: String, body: JSONObject, app: App) async throws {
        try await self.runOnThisNode(method, body: body, app: app.id)
        var command = JSONWriter(capacity: body.buffer.readableBytes + 64)
        command.beginObject()
        command.member("app", app.id)
        command.member("method", method)
        command.key("params")
        command.raw(body.buffer)
        command.endObject()
        do {
            try await self.bus.sendToOtherNodes(kind: Self.userCommand, body: command.buffer)
        } catch is EngineUnavailable {
            throw Failure(code: .internal, message: "carried out on this node only: the other nodes cannot be reached")
        }
    }

    /// Carries out `method` on the user's connections this node holds.
    func runOnThisNode(_ method: String, body: JSONObject, app: String) async throws(Failure) {
        let user = try self.user(body)
        switch method {
        case "subscribe":
            let channel = try self.channel(body)
            for connection in self.registry.connections(app: app, user: user, client: body.string("client")) {
                do {
                    try await connection.serverSubscribe(channel, data: body.raw("data"))
                } catch {
                    throw Failure(code: connection.refusal(error, channel: channel), message: nil)
                }
            }
        case "unsubscribe":
            let channel = try self.channel(body)
            for connection in self.registry.connections(app: app, user: user, client: body.string("client")) {
                await connection.serverUnsubscribe(channel)
            }
        case "disconnect":
            var reason = JWTDisconnect.forceNoReconnect
            if let custom = body.object("disconnect"), let code = custom.integer("code") {
                guard (3000...4999).contains(code) else { throw Failure(code: .badRequest, message: "disconnect codes are 3000 to 4999") }
                reason = JWTDisconnect(code: UInt16(code), reason: custom.string("reason") ?? "")
            }
            let whitelist = Set(body.strings("whitelist") ?? [])
            for connection in self.registry.connections(app: app, user: user, client: body.string("client"))
            where !whitelist.contains(connection.clientID) {
                connection.disconnect(reason)
            }
        case "refresh":
            // Centrifugo's: `expired` ends the connections as expired at once; else they expire at `expire_at` (Unix
            // seconds), or never without one. A connection here is one session, so `session` names it like `client`.
            let expireAt = body.integer("expire_at").flatMap { $0 > 0 ? $0 : nil }
            let expired = body.bool("expired") ?? false
            for connection in self.registry.connections(app: app, user: user, client: body.string("client") ?? body.string("session")) {
                if expired { connection.disconnect(.expired) } else { connection.serverRefresh(expireAt: expireAt) }
            }
        default:
            throw Failure(code: .methodNotFound, message: nil)
        }
    }

    /// Carries out what other nodes' calls ask of this node's connections, one at a time in the order sent (a subscribe
    /// then an unsubscribe must not swap); a refusal here has no caller to answer.
    func listenToOtherNodes() {
        let (commands, arriving) = AsyncStream.makeStream(of: ByteBuffer.self)
        self.bus.onNodeCommand(kind: Self.userCommand) { body in arriving.yield(body) }
        Task {
            for await body in commands {
                guard let command = try? JSONObject(parsing: body), let app = command.string("app"),
                    let method = command.string("method"), let params = command.object("params")
                else { continue }
                try? await self.runOnThisNode(method, body: params, app: app)
            }
        }
    }
}
