public import NIOCore

/// A server API call for every node of a cluster: the connections it names (a user's, say) may be held by any node.
///
/// The node that takes the call carries it out on its own connections and sends it to the others through the engine.
/// `kind` names who reads `body` (an adapter registers for its kinds with `Bus.onNodeCommand`); the bus reads neither.
public struct NodeCommand: Sendable, Equatable {
    /// Who carries the command out, e.g. `pusher.terminate`.
    public var kind: String
    /// The command, in the form its kind's reader defines.
    public var body: ByteBuffer

    /// A command of `kind`.
    public init(kind: String, body: ByteBuffer) {
        self.kind = kind
        self.body = body
    }
}

/// A reader of one kind of node command (`Bus.onNodeCommand`), in a struct: a function kept bare as a lock's value is
/// wrapped in two more conversion thunks by each read, so every call would cost more than the one before.
struct NodeCommandReader: Sendable {
    let read: @Sendable (ByteBuffer) -> Void
}
