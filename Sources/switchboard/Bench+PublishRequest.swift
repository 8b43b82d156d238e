import NIOCore
import NIOHTTP1

extension Bench {
    /// Builds each publish: the HTTP head and a body whose payload carries its monotonic send time.
    ///
    /// The payload is `{"t":NANOSECONDS,"p":"xxx…"}` padded to `size` bytes; JSON-action wraps it as
    /// `{"channel":"CH","data":PAYLOAD}` and raw WebSocket posts it bare.
    struct PublishRequest: Sendable {
        let wire: WireProtocol
        let hostHeader: String
        /// The publish path; `{channel}` in it is replaced by the message's channel.
        let pathTemplate: String
        let secret: String?
        /// Message `i` goes to `channels[i % channels.count]`.
        let channels: [String]
        let size: Int

        /// `{"t":` + `,"p":"` + `"}`.
        static let payloadOverhead = 13

        func head(index: Int, bodyLength: Int) -> HTTPRequestHead {
            let channel = self.channel(index)
            var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: self.pathTemplate.replacing("{channel}", with: channel))
            head.headers.reserveCapacity(5)
            head.headers.add(name: "Host", value: self.hostHeader)
            head.headers.add(name: "Content-Type", value: "application/json")
            head.headers.add(name: "Content-Length", value: String(bodyLength))
            if let secret { head.headers.add(name: "Authorization", value: "Bearer \(secret)") }
            return head
        }

        func body(index: Int, sentAt: UInt64, allocator: ByteBufferAllocator) -> ByteBuffer {
            var buffer = allocator.buffer(capacity: self.size + 64)
            if self.wire != .raw {
                buffer.writeString(#"{"channel":""#)
                buffer.writeString(self.channel(index))
                buffer.writeString(#"","data":"#)
            }
            let digits = String(sentAt)
            buffer.writeString(#"{"t":"#)
            buffer.writeString(digits)
            buffer.writeString(#","p":""#)
            let padding = max(0, self.size - Self.payloadOverhead - digits.utf8.count)
            buffer.writeRepeatingByte(UInt8(ascii: "x"), count: padding)
            buffer.writeString(#""}"#)
            if self.wire != .raw { buffer.writeString("}") }
            return buffer
        }

        func channel(_ index: Int) -> String { self.channels[index % self.channels.count] }
    }
}
