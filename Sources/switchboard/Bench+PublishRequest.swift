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
        /// Pad with words (about as compressible as JSON text) instead of `x`s (which deflate ~100:1).
        var textPadding = false

        /// The words text padding is drawn from.
        static let words = [
            "delivery", "status", "order", "driver", "route", "update", "arrived", "pending", "the", "a", "to", "at",
            "message", "room", "user", "typing", "location", "latitude", "longitude", "eta", "minutes", "kitchen", "ready",
            "picked", "up", "on", "its", "way", "call", "offer", "answer", "candidate",
        ]

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
            if self.textPadding {
                Self.writeWords(count: padding, seed: UInt64(index), into: &buffer)
            } else {
                buffer.writeRepeatingByte(UInt8(ascii: "x"), count: padding)
            }
            buffer.writeString(#""}"#)
            if self.wire != .raw { buffer.writeString("}") }
            return buffer
        }

        func channel(_ index: Int) -> String { self.channels[index % self.channels.count] }

        /// Exactly `count` bytes of space-separated words picked by a small PRNG seeded with `seed`.
        static func writeWords(count: Int, seed: UInt64, into buffer: inout ByteBuffer) {
            var state = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            var left = count
            while left > 0 {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let word = Self.words[Int(truncatingIfNeeded: state >> 33) % Self.words.count].utf8.prefix(left - (left > 1 ? 1 : 0))
                buffer.writeBytes(word)
                left -= word.count
                if left > 0 {
                    buffer.writeInteger(UInt8(ascii: " "))
                    left -= 1
                }
            }
        }
    }
}
