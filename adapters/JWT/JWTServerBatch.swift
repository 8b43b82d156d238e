import NIOCore
import SwitchboardAdapterKit

/// `POST /api/batch` as `cent`'s `BatchRequest` sends it, `{"commands": [{"publish": {…}}, …], "parallel": bool}`,
/// answered as Centrifugo answers it: `{"replies": [{"publish": {…}} or {"error": {…}}, …]}`, one reply per command, in
/// command order.
///
/// Each command runs as its own method would, under that method's limits (every publish passes the app's size, rate
/// and quota checks), and fails alone. A batch holds at most `maxCommands`; a longer one is refused whole with 106
/// (limit exceeded) and HTTP 400, as its reply has no place for one error. `parallel` lets up to `parallelWidth`
/// commands run at once, as Centrifugo does; without it they run one after another.
struct JWTServerBatch: Sendable {
    /// Most commands one batch may carry.
    static let maxCommands = 1000
    /// Most commands of a `parallel` batch that run at once.
    static let parallelWidth = 16
    /// A batch body may be this many times as large as one method's.
    static let bodyFactor = 4

    /// One command: the method to run with its body, or why it cannot run.
    enum Command: Sendable {
        case run(method: String, body: JSONObject)
        case refused(JWTServerAPI.Failure)
    }

    /// One reply: the method's `result` bytes, or its error.
    enum Reply: Sendable {
        case result(method: String, ByteBuffer)
        case error(JWTServerAPI.Failure)
    }

    /// The commands, in order.
    let commands: [Command]
    /// Whether the commands may run at once.
    let parallel: Bool

    /// Reads a batch body; `methods` are the names a command may use (a nested `batch` is not one of them).
    init(parsing body: JSONObject, methods: Set<String>) throws(JWTServerAPI.Failure) {
        guard let raw = body.raw("commands"), let elements = JSONArrayElements.split(raw, limit: Self.maxCommands + 1) else {
            throw JWTServerAPI.Failure(code: .badRequest, message: "\"commands\" must be an array of commands")
        }
        guard elements.count <= Self.maxCommands else {
            throw JWTServerAPI.Failure(code: .limitExceeded, message: "a batch holds at most \(Self.maxCommands) commands")
        }
        self.commands = elements.map { Self.command($0, methods: methods) }
        self.parallel = body.bool("parallel") ?? false
    }

    /// One element of `commands`: an object with one member named after its method, whose value is that method's body.
    static func command(_ element: ByteBuffer, methods: Set<String>) -> Command {
        guard let object = try? JSONObject(parsing: element) else {
            return .refused(JWTServerAPI.Failure(code: .badRequest, message: "a command must be an object"))
        }
        // Centrifugo answers a command naming no method it knows with 104.
        guard object.keys.count == 1, let method = object.keys.first, methods.contains(method) else {
            return .refused(JWTServerAPI.Failure(code: .methodNotFound, message: nil))
        }
        guard let body = object.object(method) else {
            return .refused(JWTServerAPI.Failure(code: .badRequest, message: "\"\(method)\" must be an object"))
        }
        return .run(method: method, body: body)
    }

    /// Runs every command through `method` and returns the replies in command order.
    func run(_ method: @escaping @Sendable (String, JSONObject) async -> Reply) async -> [Reply] {
        guard self.parallel else {
            var replies: [Reply] = []
            replies.reserveCapacity(self.commands.count)
            for command in self.commands { replies.append(await Self.reply(command, method)) }
            return replies
        }
        return await withTaskGroup(of: (Int, Reply).self) { group in
            var replies = [Reply?](repeating: nil, count: self.commands.count)
            for (index, command) in self.commands.enumerated() {
                if index >= Self.parallelWidth, let done = await group.next() { replies[done.0] = done.1 }
                group.addTask { (index, await Self.reply(command, method)) }
            }
            for await (done, reply) in group { replies[done] = reply }
            return replies.map { $0 ?? .error(JWTServerAPI.Failure(code: .internal, message: nil)) }
        }
    }

    static func reply(_ command: Command, _ method: (String, JSONObject) async -> Reply) async -> Reply {
        switch command {
        case .run(let name, let body): await method(name, body)
        case .refused(let failure): .error(failure)
        }
    }

    /// `{"replies": [...]}`: each reply an object whose one member is its method's result or `error`.
    static func write(_ replies: [Reply]) -> ByteBuffer {
        var json = JSONWriter(capacity: 64 + replies.count * 48)
        json.beginObject()
        json.key("replies")
        json.beginArray()
        for reply in replies {
            json.beginObject()
            switch reply {
            case .result(let method, let result):
                json.key(method)
                json.raw(result)
            case .error(let failure):
                json.key("error")
                JWTServerAPI.writeError(failure.code, message: failure.message, to: &json)
            }
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return json.buffer
    }
}
