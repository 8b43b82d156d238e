import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore

/// Centrifugo's single-route server API, `POST /api`, which older `cent` and `phpcent` releases still call: each line of
/// the body is a command `{"id"?, "method", "params"}` (the method by name in any case, or by Centrifugo's number), and
/// each gets a line `{"id"?, "result"}` or `{"id"?, "error"}` in the answer, in order.
extension JWTServerAPI {
    /// Centrifugo's numbers for the methods served here (its `Command.MethodType`).
    static let legacyMethodNumbers: [Int64: String] = [
        0: "publish", 1: "broadcast", 2: "unsubscribe", 3: "disconnect", 4: "presence", 5: "presence_stats", 6: "history",
        7: "history_remove", 8: "channels", 9: "info", 11: "subscribe", 12: "refresh",
    ]

    /// The commands of a legacy body, or nil when a line is not a JSON object (Centrifugo answers 400 then).
    static func legacyCommands(_ body: ByteBuffer) -> [JSONObject]? {
        guard let lines = JSONLines.split(body, limit: JWTServerBatch.maxCommands), !lines.isEmpty else { return nil }
        var commands: [JSONObject] = []
        for line in lines {
            guard let command = try? JSONObject(parsing: line) else { return nil }
            commands.append(command)
        }
        return commands
    }

    /// The method a legacy command names, if it is one served here.
    static func legacyMethod(_ command: JSONObject) -> String? {
        if let number = command.integer("method") { return Self.legacyMethodNumbers[number] }
        guard let name = command.string("method")?.lowercased(), Self.methods.contains(name) else { return nil }
        return name
    }

    /// Runs each command in turn; a command's failure is its own reply line.
    func legacy(_ commands: [JSONObject], app: App, caller: Caller) async -> ByteBuffer {
        var answer = ByteBuffer()
        var malformed = 0
        for command in commands {
            var json = JSONWriter(capacity: 128)
            json.beginObject()
            if let id = command.integer("id"), id > 0 { json.member("id", id) }
            do {
                guard let method = Self.legacyMethod(command) else { throw Failure(code: .methodNotFound, message: nil) }
                let result = try await self.run(method, body: command.object("params") ?? Self.noParams, app: app)
                json.key("result")
                json.raw(result)
            } catch let failure as Failure {
                if failure.code == .badRequest { malformed += 1 }
                json.key("error")
                Self.writeError(failure.code, message: failure.message, to: &json)
            } catch {
                json.key("error")
                Self.writeError(.internal, message: nil, to: &json)
            }
            json.endObject()
            if answer.readableBytes > 0 { answer.writeString("\n") }
            var line = json.buffer
            answer.writeBuffer(&line)
        }
        if malformed > 0 {
            self.environment.gate.report(
                .badRequest,
                app: app.id,
                caller: caller,
                detail: "api: \(malformed) of \(commands.count) commands malformed"
            )
        }
        return answer
    }

    /// A command without `params` (`info` needs none).
    static var noParams: JSONObject { (try? JSONObject(parsing: ByteBuffer(string: "{}")))! }
}
