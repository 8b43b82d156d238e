public import NIOCore
public import SwitchboardAdapterKit

/// One command of the JWT protocol (Centrifugo v2 JSON): `{"id":N,"<method>":{…}}`, or `{}` answering a server ping.
///
/// A frame carries one or more commands separated by newlines; `parse(frame:)` splits and checks their shape
/// (not their permissions).
public struct JWTCommand: Sendable {
    /// The methods a client may call.
    public enum Method: String, Sendable, CaseIterable {
        case connect, subscribe, unsubscribe, publish, presence, history, ping, send, rpc, refresh
        case presenceStats = "presence_stats"
        case subRefresh = "sub_refresh"
    }

    /// What the command asks.
    public enum Body: Sendable {
        /// `{}`: the client's answer to a server ping.
        case pong
        /// A call of `method` with its parameters.
        case call(Method, JSONObject)
        /// A method this server does not know (answered with error 104).
        case unknown(String)
    }

    /// A frame that is not a sequence of commands; the connection ends with 3501 (bad request).
    public struct Invalid: Error, Sendable {
        /// Why, for logs and security events.
        public var message: String
    }

    /// The command id the reply carries (0 for pongs and `send`).
    public var id: Int64
    /// What the command asks.
    public var body: Body

    /// The most commands one frame may carry.
    public static let maxCommandsPerFrame = 100

    /// Splits a text frame into commands: newline-delimited JSON objects, blank lines ignored.
    ///
    /// ```swift
    /// let commands = try JWTCommand.parse(frame: ByteBuffer(string: "{\"id\":1,\"connect\":{}}\n{}"))
    /// ```
    public static func parse(frame: ByteBuffer) throws(Invalid) -> [JWTCommand] {
        guard let lines = JSONLines.split(frame, limit: maxCommandsPerFrame) else {
            throw Invalid(message: "more than \(maxCommandsPerFrame) commands in one frame")
        }
        var commands: [JWTCommand] = []
        for line in lines { commands.append(try JWTCommand(parsing: line)) }
        guard !commands.isEmpty else { throw Invalid(message: "empty frame") }
        return commands
    }

    /// Parses one command line.
    public init(parsing line: ByteBuffer) throws(Invalid) {
        let object: JSONObject
        do {
            object = try JSONObject(parsing: line)
        } catch {
            throw Invalid(message: "malformed JSON: \(error.message)")
        }
        var id: Int64 = 0
        if object.has("id") {
            guard let value = object.integer("id"), value >= 0, value <= Int64(UInt32.max) else {
                throw Invalid(message: "\"id\" must be a non-negative 32-bit integer")
            }
            id = value
        }
        self.id = id
        let methods = object.keys.filter { $0 != "id" }
        guard let name = methods.first else {
            guard id == 0 else { throw Invalid(message: "command \(id) names no method") }
            self.body = .pong
            return
        }
        guard methods.count == 1 else { throw Invalid(message: "one command names several methods: \(methods.joined(separator: ", "))") }
        guard let method = Method(rawValue: name) else {
            guard id > 0 else { throw Invalid(message: "unknown method \"\(name)\" without an id") }
            self.body = .unknown(name)
            return
        }
        guard let params = object.object(name) else { throw Invalid(message: "\"\(name)\" must be an object") }
        guard id > 0 || method == .send else { throw Invalid(message: "\(name) needs an id") }
        self.body = .call(method, params)
    }
}
