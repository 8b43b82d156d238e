import ArgumentParser
import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore
import SwitchboardEdge

extension Serve {
    /// `--log-format`: human lines, or one JSON object per line for log collectors.
    enum LogFormat: String, ExpressibleByArgument, CaseIterable {
        case text
        case json
    }

    /// The start-up banner as one JSON object (`--log-format json`): where the edge listens and its app, never a secret.
    static func jsonBanner(app: App?, host: String, port: Int) -> String {
        var json = JSONWriter()
        json.beginObject()
        json.member("time", JSONLogLine.now)
        json.member("level", "notice")
        json.member("label", "switchboard")
        json.member("message", "switchboard \(Edge.version) listening on http://\(host):\(port)")
        json.member("version", Edge.version)
        json.member("url", "http://\(host):\(port)")
        json.member("port", port)
        if let app {
            json.member("app", app.id)
            json.member("key", app.key)
            json.member("plan", app.plan.name)
        }
        json.endObject()
        return String(buffer: json.buffer)
    }

    /// A `[[listeners]]` entry accepting connections, as one JSON object.
    static func jsonListening(_ listener: BoundListener) -> String {
        var json = JSONWriter()
        json.beginObject()
        json.member("time", JSONLogLine.now)
        json.member("level", "notice")
        json.member("label", "switchboard")
        json.member("message", "listening on \(listener)")
        json.member("url", listener.url)
        json.key("protocols")
        json.beginArray()
        for name in listener.protocols { json.string(name) }
        json.endArray()
        json.endObject()
        return String(buffer: json.buffer)
    }
}
