public import HummingbirdWebSocket
public import Logging
public import NIOCore

extension WebSocketInboundStream {
    /// Hands each message the client sends (text or binary, at most `maxSize` bytes) to `receive` until the client
    /// goes away or `receive` returns false; a transport error ends the loop and is logged at debug level.
    public func receiveMessages(maxSize: Int, logger: Logger, _ receive: (ByteBuffer) async -> Bool) async {
        do {
            for try await message in self.messages(maxSize: maxSize) {
                let bytes: ByteBuffer
                switch message {
                case .text(let text): bytes = ByteBuffer(string: text)
                case .binary(let binary): bytes = binary
                }
                guard await receive(bytes) else { return }
            }
        } catch {
            logger.debug("WebSocket connection ended", metadata: ["error": "\(error)"])
        }
    }
}
