public import Hummingbird
public import NIOCore
public import SwitchboardCore

/// JSON HTTP responses for the REST APIs.
public enum JSONResponse {
    /// A response with `body` (JSON bytes) and `status`.
    public static func make(_ status: HTTPResponse.Status = .ok, _ body: ByteBuffer, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: body))
    }

    /// A response whose body `write` builds.
    public static func make(_ status: HTTPResponse.Status = .ok, headers: HTTPFields = [:], _ write: (inout JSONWriter) -> Void) -> Response {
        var writer = JSONWriter()
        write(&writer)
        return make(status, writer.buffer, headers: headers)
    }

    /// `{"ok":true,"seq":n}`: a publish the bus accepted (`seq` only where the channel keeps history).
    public static func published(_ publication: Publication) -> Response {
        make { json in
            json.beginObject()
            json.key("ok")
            json.bool(true)
            if let seq = publication.position?.offset { json.member("seq", seq) }
            json.endObject()
        }
    }

    /// `{"ok":false,"error":{"code":…,"message":…}}` with `status`.
    public static func error(_ status: HTTPResponse.Status, code: String, message: String, headers: HTTPFields = [:]) -> Response {
        make(status, errorBody(code: code, message: message), headers: headers)
    }

    /// The body of an error response: `{"ok":false,"error":{"code":…,"message":…}}`.
    public static func errorBody(code: String, message: String) -> ByteBuffer {
        var json = JSONWriter()
        json.beginObject()
        json.key("ok")
        json.bool(false)
        json.key("error")
        json.beginObject()
        json.member("code", code)
        json.member("message", message)
        json.endObject()
        json.endObject()
        return json.buffer
    }
}
