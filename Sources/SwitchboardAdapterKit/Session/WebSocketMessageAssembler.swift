public import NIOCore
public import NIOWebSocket

/// Why the edge closes a WebSocket on what the client sent: the RFC 6455 close code and a line for the security event.
public struct WebSocketViolation: Sendable, Equatable, CustomStringConvertible {
    /// The close code sent to the client (1002, 1007 or 1009).
    public var code: WebSocketErrorCode
    /// What was wrong, without the client's bytes.
    public var detail: String

    public var description: String { self.detail }

    /// A text message that is not valid UTF-8: 1007.
    public static let invalidUTF8 = WebSocketViolation(code: .dataInconsistentWithMessage, detail: "text message is not valid UTF-8")
    /// A message frame the protocol does not allow where it came (a continuation with no message, a new message
    /// before the last one ended): 1002.
    public static let badFragment = WebSocketViolation(code: .protocolError, detail: "message frames out of order")

    /// A message over `limit` bytes: 1009.
    public static func tooLarge(_ limit: Int) -> WebSocketViolation {
        WebSocketViolation(code: .messageTooLarge, detail: "message over \(limit) bytes")
    }
}

/// Puts a client's message frames (already unmasked and inflated) together into messages, checking what the library
/// leaves to its user: a message's size over all its frames, the order of fragments, and UTF-8 in text messages.
///
/// A value with no transport: the receive loop feeds it frames and acts on what it returns.
public struct WebSocketMessageAssembler: Sendable {
    /// What one frame completed.
    public enum Outcome: Sendable, Equatable {
        /// The frame is part of a message that has not ended.
        case incomplete
        /// A whole message, text or binary.
        case message(ByteBuffer)
        /// The connection must be closed with the violation's code.
        case violation(WebSocketViolation)
        /// A message went over the limit (given): nothing of it is kept, and its frames still to come are dropped. The
        /// protocol may answer it and go on, or the connection is closed with 1009.
        case oversized(Int)
    }

    /// The largest message accepted, over all its frames; set between messages when the plan changes.
    public var maxSize: Int
    private var pending: ByteBuffer?
    private var pendingIsText = false
    /// The message being received went over the limit: its frames are dropped until its last.
    private var dropping = false

    /// An assembler accepting messages of at most `maxSize` bytes.
    public init(maxSize: Int) { self.maxSize = maxSize }

    /// Takes one message frame: its opcode (`.text`, `.binary` or `.continuation`), FIN bit and payload.
    public mutating func add(opcode: WebSocketOpcode, fin: Bool, data: ByteBuffer) -> Outcome {
        var message: ByteBuffer
        let isText: Bool
        switch opcode {
        case .text, .binary:
            guard self.pending == nil, !self.dropping else { return .violation(.badFragment) }
            message = data
            isText = opcode == .text
        case .continuation:
            if self.dropping {
                self.dropping = !fin
                return .incomplete
            }
            guard var pending = self.pending else { return .violation(.badFragment) }
            self.pending = nil
            guard pending.readableBytes + data.readableBytes <= self.maxSize else { return self.oversized(fin: fin) }
            var data = data
            pending.writeBuffer(&data)
            message = pending
            isText = self.pendingIsText
        default:
            return .violation(.badFragment)
        }
        guard message.readableBytes <= self.maxSize else { return self.oversized(fin: fin) }
        guard fin else {
            self.pending = message
            self.pendingIsText = isText
            return .incomplete
        }
        if isText, !UTF8Validation.isValid(message) { return .violation(.invalidUTF8) }
        return .message(message)
    }

    /// Drops the message over the limit, and the rest of its frames when this was not its last.
    private mutating func oversized(fin: Bool) -> Outcome {
        self.pending = nil
        self.dropping = !fin
        return .oversized(self.maxSize)
    }
}
