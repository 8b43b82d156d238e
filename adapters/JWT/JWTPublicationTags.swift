import NIOCore
import SwitchboardAdapterKit

/// A server API publication's `tags`, as `cent`'s `PublishRequest(tags=…)` and `BroadcastRequest(tags=…)` send them.
///
/// `tags.event` (or the body's `name`) becomes the bus event every protocol shows; the other tags ride on the bus
/// publication to JWT subscribers and history. Anyone holding the API key may send them, so they are bounded: an object
/// of at most `maxCount` string members (`event` included) totalling at most `maxBytes` of UTF-8 in keys and values;
/// anything else is refused with 107 before a publication is made.
struct JWTPublicationTags: Sendable, Equatable {
    /// Most members `tags` may have.
    static let maxCount = 16
    /// Most UTF-8 bytes `tags`' keys and values may add up to.
    static let maxBytes = 4096

    /// The event name: `tags.event`, else the body's `name`.
    var event: String?
    /// The tags besides `event`.
    var others: [String: String] = [:]

    /// Tags as given.
    init(event: String?, others: [String: String] = [:]) {
        self.event = event
        self.others = others
    }

    /// Reads `tags` (absent or `null`: none) and `name` from a publish or broadcast body.
    init(parsing body: JSONObject) throws(JWTServerAPI.Failure) {
        self.event = body.string("name")
        guard let raw = body.raw("tags"), !body.isNull("tags") else { return }
        guard raw.readableBytesView.first == UInt8(ascii: "{"), let tags = try? JSONObject(parsing: raw) else {
            throw JWTServerAPI.Failure(code: .badRequest, message: "\"tags\" must be an object of strings")
        }
        let keys = tags.keys
        guard keys.count <= Self.maxCount else {
            throw JWTServerAPI.Failure(code: .badRequest, message: "\"tags\" holds at most \(Self.maxCount) members")
        }
        var bytes = 0
        for key in keys {
            guard let value = tags.string(key) else {
                throw JWTServerAPI.Failure(code: .badRequest, message: "\"tags\" must be an object of strings")
            }
            bytes += key.utf8.count + value.utf8.count
            if key == "event" { self.event = value } else { self.others[key] = value }
        }
        guard bytes <= Self.maxBytes else {
            throw JWTServerAPI.Failure(code: .badRequest, message: "\"tags\" holds at most \(Self.maxBytes) bytes")
        }
    }
}
