/// The engine cannot reach what carries the bus (a Redis server down or restarting): the command was not carried out.
///
/// Nothing was published or stored, so the caller may retry. HTTP APIs answer 503; a client protocol answers
/// with its "try again" error. Adapters that do not know this error treat it as an internal error.
public struct EngineUnavailable: Error, Sendable, Equatable, CustomStringConvertible {
    /// The engine's kind, such as `redis`.
    public var engine: String
    /// Why, for logs and error messages.
    public var reason: String

    /// Creates the error.
    public init(engine: String, reason: String) {
        self.engine = engine
        self.reason = reason
    }

    public var description: String { "the \(self.engine) engine is unavailable: \(self.reason)" }
}
