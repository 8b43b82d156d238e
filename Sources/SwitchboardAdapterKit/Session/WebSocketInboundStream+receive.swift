public import HummingbirdWebSocket
public import Logging
public import NIOCore
import NIOWebSocket
public import SwitchboardCore

extension WebSocketInboundStream {
    /// Hands each message the client sends (text or binary, at most `maxSize` bytes) to `receive` until the client
    /// goes away or `receive` returns false; a transport error ends the loop and is logged at debug level.
    ///
    /// A text message that is not valid UTF-8 closes the connection with 1007, a message over `maxSize` with 1009 and
    /// fragments out of order with 1002 (RFC 6455), through `outbound`; `violated` hears why first (for a security event).
    public func receiveMessages(
        maxSize: Int,
        logger: Logger,
        outbound: WebSocketOutboundWriter? = nil,
        violated: (WebSocketViolation) -> Void = { _ in },
        _ receive: (ByteBuffer) async -> Bool
    ) async {
        var assembler = WebSocketMessageAssembler(maxSize: maxSize)
        do {
            for try await frame in self {
                let opcode: WebSocketOpcode
                switch frame.opcode {
                case .text: opcode = .text
                case .binary: opcode = .binary
                case .continuation: opcode = .continuation
                }
                switch assembler.add(opcode: opcode, fin: frame.fin, data: frame.data) {
                case .incomplete:
                    continue
                case .message(let bytes):
                    guard await receive(bytes) else { return }
                case .violation(let violation):
                    logger.debug("WebSocket closed on a client violation", metadata: ["violation": "\(violation)"])
                    violated(violation)
                    try await outbound?.close(violation.code, reason: violation.detail)
                    return
                }
            }
        } catch {
            logger.debug("WebSocket connection ended", metadata: ["error": "\(error)"])
        }
    }
}

extension Gate {
    /// Records a `bad_request` event for each connection `receiveMessages` closes on a client violation (1002, 1007, 1009).
    public func reportViolations(app: String, caller: Caller, connection: ConnectionID? = nil) -> (WebSocketViolation) -> Void {
        { violation in
            let code = UInt16(webSocketErrorCode: violation.code)
            self.report(.badRequest, app: app, caller: caller, detail: "WebSocket closed with \(code): \(violation.detail)", connection: connection)
        }
    }
}
