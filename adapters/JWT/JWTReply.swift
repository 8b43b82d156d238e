public import NIOCore
public import SwitchboardAdapterKit

/// Reply frames of the JWT protocol: `{"id":N,"<method>":{…}}` or `{"id":N,"error":{…}}`, and server pings.
public enum JWTReply {
    /// The server's ping: an empty object, which clients answer with `{}`.
    public static let ping = ByteBuffer(string: "{}")

    /// `{"id":N,"<method>":{…}}` with the result object `body` writes (the braces are written for it).
    public static func result(id: Int64, _ method: String, _ body: (inout JSONWriter) -> Void = { _ in }) -> ByteBuffer {
        var json = JSONWriter(capacity: 128)
        json.beginObject()
        json.member("id", id)
        json.key(method)
        json.beginObject()
        body(&json)
        json.endObject()
        json.endObject()
        return json.buffer
    }

    /// `{"id":N,"error":{"code":…,"message":…,"temporary":…}}`
    public static func error(id: Int64, _ code: JWTErrorCode, message: String? = nil, temporary: Bool? = nil) -> ByteBuffer {
        var json = JSONWriter(capacity: 96)
        json.beginObject()
        json.member("id", id)
        json.key("error")
        json.beginObject()
        json.member("code", code.code)
        json.member("message", message ?? code.message)
        if temporary ?? code.temporary {
            json.key("temporary")
            json.bool(true)
        }
        json.endObject()
        json.endObject()
        return json.buffer
    }

    /// `{"push":{"channel":…,"<kind>":{…}}}` with the object `body` writes.
    public static func push(channel: String, _ kind: String, _ body: (inout JSONWriter) -> Void) -> ByteBuffer {
        var json = JSONWriter(capacity: 128)
        json.beginObject()
        json.key("push")
        json.beginObject()
        json.member("channel", channel)
        json.key(kind)
        json.beginObject()
        body(&json)
        json.endObject()
        json.endObject()
        json.endObject()
        return json.buffer
    }
}
