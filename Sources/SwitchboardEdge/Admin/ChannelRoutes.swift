import Foundation
import Hummingbird
import SwitchboardAdapterKit
import SwitchboardCore
import SwitchboardStore

/// `GET /api/realtime/apps/{app}/channels` and `…/channels/{name}`: occupied channels, their subscribers per protocol
/// on this node and in all (`clusterSubscribers`, every node of a Redis cluster), presence members and last sequence.
struct ChannelRoutes: Sendable {
    let controlPlane: ControlPlane
    let bus: Bus
    let authorized: AdminAuthorization

    static let protocols = ["pusher", "jsonaction", "jwt", "sse"]

    func register(on router: Router<SwitchboardContext>) {
        router.get("/api/realtime/apps/:app/channels") { request, context in
            try await self.authorized(request, context) {
                let app = try self.controlPlane.app(context.parameters.require("app"))
                let counts = self.bus.hub.protocolCounts(app: app.id)
                let cluster = try await self.bus.clusterChannels(app: app.id)
                let names = Set(counts.keys).union(cluster.keys)
                var members: [String: Int] = [:]
                for channel in names { members[channel] = try await self.bus.members(app: app.id, channel: channel).count }
                return JSONResponse.make { json in
                    json.beginObject()
                    json.key("channels")
                    json.beginArray()
                    for name in names.sorted() {
                        json.beginObject()
                        json.member("name", name)
                        Self.subscribers(counts[name] ?? [:], to: &json)
                        json.member("clusterSubscribers", cluster[name, default: 0])
                        json.member("presenceMembers", members[name, default: 0])
                        json.endObject()
                    }
                    json.endArray()
                    json.endObject()
                }
            }
        }
        router.get("/api/realtime/apps/:app/channels/:name") { request, context in
            try await self.authorized(request, context) {
                let stored = try self.controlPlane.app(context.parameters.require("app"))
                let raw = try context.parameters.require("name")
                let name = raw.removingPercentEncoding ?? raw
                guard ChannelName.isValid(name) else { throw AdminError.badRequest("\(name) is not a channel name") }
                guard let app = self.controlPlane.registry.app(id: stored.id) else { throw AdminError.notFound("no app \(stored.id)") }
                let byProtocol = self.bus.hub.protocolCounts(app: app.id)[name] ?? [:]
                let clusterSubscribers = try await self.bus.clusterCount(app: app.id, channel: name)
                let members = try await self.bus.members(app: app.id, channel: name)
                let latest = try await self.bus.history(app: app, channel: name, after: nil, limit: 1).latest
                return JSONResponse.make { json in
                    json.beginObject()
                    json.key("channel")
                    json.beginObject()
                    json.member("name", name)
                    json.key("occupied")
                    json.bool(clusterSubscribers > 0)
                    Self.subscribers(byProtocol, to: &json)
                    json.member("clusterSubscribers", clusterSubscribers)
                    json.key("presence")
                    json.beginObject()
                    json.member("count", members.count)
                    json.key("members")
                    json.beginArray()
                    for member in members.sorted(by: { $0.userID < $1.userID }) { json.presenceMember(member) }
                    json.endArray()
                    json.endObject()
                    json.optionalMember("lastSeq", latest?.offset)
                    json.optionalMember("epoch", latest?.epoch)
                    json.endObject()
                    json.endObject()
                }
            }
        }
    }

    /// `"subscribers": {total, pusher, jsonaction, jwt, sse}`.
    static func subscribers(_ counts: [String: Int], to json: inout JSONWriter) {
        json.key("subscribers")
        json.beginObject()
        json.member("total", counts.values.reduce(0, +))
        for name in Self.protocols { json.member(name, counts[name, default: 0]) }
        json.endObject()
    }
}
