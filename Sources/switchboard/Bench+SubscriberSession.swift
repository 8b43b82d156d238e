import NIOCore

extension Bench {
    /// One subscriber's side of the protocol, without sockets: what to send once upgraded and what each frame means.
    ///
    /// Frames are scanned, not decoded: a delivery is found by the `"t":` digits of the payload, which is all
    /// the receive path needs and keeps the load generator cheaper than the server it measures.
    struct SubscriberSession {
        /// What a received frame amounted to.
        enum Event: Equatable {
            /// A published message; `sentAt` is its monotonic send time when the payload carries one.
            case delivered(sentAt: UInt64?)
            /// The last subscription was confirmed: the subscriber counts as connected.
            case ready
            /// A message published before this run began (a reference server replaying its buffer).
            case stale
            /// The server answered with an error frame.
            case error(String)
            /// Anything else (`connected`, a subscription that is not the last, presence).
            case ignored
        }

        let wire: WireProtocol
        let channels: [String]
        /// Monotonic start of the run: payloads stamped earlier are not this run's deliveries.
        let since: UInt64
        private var unconfirmed: Int

        init(wire: WireProtocol, channels: [String], since: UInt64) {
            self.wire = wire
            self.channels = channels
            self.since = since
            self.unconfirmed = wire == .jsonAction ? channels.count : 0
        }

        /// Ready as soon as upgraded for raw WebSocket; after every `subscribed` confirmation for JSON-action.
        var isReady: Bool { self.unconfirmed == 0 }

        /// The text frames to send right after the upgrade: one `subscribe` action per channel.
        func openingFrames(allocator: ByteBufferAllocator) -> [ByteBuffer] {
            guard self.wire == .jsonAction else { return [] }
            return self.channels.map { channel in
                var buffer = allocator.buffer(capacity: 40 + channel.utf8.count)
                buffer.writeString(#"{"action":"subscribe","channel":""#)
                buffer.writeString(channel)
                buffer.writeString(#""}"#)
                return buffer
            }
        }

        /// Classifies one text or binary frame.
        mutating func received(_ payload: ByteBuffer) -> Event {
            if self.wire == .raw { return self.delivery(stampedAt: Self.timestamp(in: payload)) }
            if self.isReady, let sentAt = Self.timestamp(in: payload) { return self.delivery(stampedAt: sentAt) }
            if Self.contains(#""event":"subscribed""#, in: payload) {
                guard self.unconfirmed > 0 else { return .ignored }
                self.unconfirmed -= 1
                return self.unconfirmed == 0 ? .ready : .ignored
            }
            if Self.contains(#""event":"error""#, in: payload) {
                return .error(String(buffer: payload.getSlice(at: payload.readerIndex, length: min(200, payload.readableBytes)) ?? payload))
            }
            if let sentAt = Self.timestamp(in: payload) { return self.delivery(stampedAt: sentAt) }
            return .ignored
        }

        func delivery(stampedAt sentAt: UInt64?) -> Event {
            if let sentAt, sentAt < self.since { return .stale }
            return .delivered(sentAt: sentAt)
        }

        /// The digits after the first `"t":`, or nil if there are none.
        static func timestamp(in payload: ByteBuffer) -> UInt64? {
            payload.withUnsafeReadableBytes { bytes -> UInt64? in
                let count = bytes.count
                var index = 0
                // `"t":` is 0x22 0x74 0x22 0x3A.
                while index + 4 < count {
                    if bytes[index] == 0x22, bytes[index + 1] == 0x74, bytes[index + 2] == 0x22, bytes[index + 3] == 0x3A {
                        var cursor = index + 4
                        var value: UInt64 = 0
                        while cursor < count, bytes[cursor] >= 0x30, bytes[cursor] <= 0x39 {
                            value = value &* 10 &+ UInt64(bytes[cursor] - 0x30)
                            cursor += 1
                        }
                        return cursor > index + 4 ? value : nil
                    }
                    index += 1
                }
                return nil
            }
        }

        static func contains(_ needle: StaticString, in payload: ByteBuffer) -> Bool {
            needle.withUTF8Buffer { needle in
                payload.withUnsafeReadableBytes { bytes in
                    guard needle.count <= bytes.count, let first = needle.first else { return false }
                    var index = 0
                    while index + needle.count <= bytes.count {
                        if bytes[index] == first, zip(needle, bytes[index..<(index + needle.count)]).allSatisfy({ $0 == $1 }) { return true }
                        index += 1
                    }
                    return false
                }
            }
        }
    }
}
