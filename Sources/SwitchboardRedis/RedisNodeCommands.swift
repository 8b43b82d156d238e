import NIOCore
import SwitchboardCore

/// Server API commands between the nodes of a cluster (`NodeCommand`): one pub/sub topic every node listens on.
///
/// | key | type | holds |
/// |---|---|---|
/// | `P:commands` | pub/sub channel | `<sending node>\n<kind>\n<body>` |
///
/// The sender carried the command out already, so a node drops what it sent itself.
struct RedisNodeCommands: Sendable {
    /// The pub/sub topic.
    let topic: String
    let nodeID: String

    init(prefix: String, nodeID: String) {
        self.topic = "\(prefix):commands"
        self.nodeID = nodeID
    }

    /// Whether `topic` is the command topic (the subscriber hands such messages here instead of to the bus).
    func claims(_ topic: ByteBuffer) -> Bool { topic.readableBytesView.elementsEqual(self.topic.utf8) }

    /// `command` as this node publishes it.
    func encode(_ command: NodeCommand) -> ByteBuffer {
        var payload = ByteBuffer()
        payload.reserveCapacity(self.nodeID.utf8.count + command.kind.utf8.count + command.body.readableBytes + 2)
        payload.writeString(self.nodeID)
        payload.writeInteger(UInt8(ascii: "\n"))
        payload.writeString(command.kind)
        payload.writeInteger(UInt8(ascii: "\n"))
        payload.writeImmutableBuffer(command.body)
        return payload
    }

    /// The command in `payload`; nil when this node sent it, or when it is not one.
    func decode(_ payload: ByteBuffer) -> NodeCommand? {
        var payload = payload
        let newline = UInt8(ascii: "\n")
        guard let senderEnd = payload.readableBytesView.firstIndex(of: newline),
            let sender = payload.readString(length: senderEnd - payload.readerIndex), sender != self.nodeID
        else { return nil }
        payload.moveReaderIndex(forwardBy: 1)
        guard let kindEnd = payload.readableBytesView.firstIndex(of: newline),
            let kind = payload.readString(length: kindEnd - payload.readerIndex), !kind.isEmpty
        else { return nil }
        payload.moveReaderIndex(forwardBy: 1)
        return NodeCommand(kind: kind, body: payload)
    }
}
