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
            self.unconfirmed = wire == .raw ? 0 : channels.count
        }

        /// Ready as soon as upgraded for raw WebSocket; after every `subscribed` confirmation for JSON-action.
        var isReady: Bool { self.unconfirmed == 0 }

        /// The text frames to send right after the upgrade: one subscribe per channel (after `connect` for jwt).
        func openingFrames(allocator: ByteBufferAllocator) -> [ByteBuffer] {
            let (prefix, suffix): (String, String)
            switch self.wire {
            case .raw: return []
            case .jsonAction: (prefix, suffix) = (#"{"action":"subscribe","channel":""#, #""}"#)
            case .pusher: (prefix, suffix) = (#"{"event":"pusher:subscribe","data":{"channel":""#, #""}}"#)
            case .jwt: (prefix, suffix) = (#"{"id":ID,"subscribe":{"channel":""#, #""}}"#)
            }
            var frames: [ByteBuffer] = []
            if self.wire == .jwt { frames.append(allocator.buffer(string: #"{"id":1,"connect":{}}"#)) }
            for (index, channel) in self.channels.enumerated() {
                var buffer = allocator.buffer(capacity: prefix.utf8.count + channel.utf8.count + suffix.utf8.count)
                buffer.writeString(prefix.replacing("ID", with: String(index + 2)))
                buffer.writeString(channel)
                buffer.writeString(suffix)
                frames.append(buffer)
            }
            return frames
        }

        /// How this protocol confirms a subscription and reports an error.
        var confirmation: StaticString {
            switch self.wire {
            case .jsonAction, .raw: #""event":"subscribed""#
            case .pusher: #""event":"pusher_internal:subscription_succeeded""#
            case .jwt: #""subscribe":{"#
            }
        }

        var errorMarker: StaticString {
            switch self.wire {
            case .jsonAction, .raw: #""event":"error""#
            case .pusher: #""event":"pusher:error""#
            case .jwt: #""error":{"#
            }
        }

        /// Classifies one text or binary frame.
        mutating func received(_ payload: ByteBuffer) -> Event {
            if self.wire == .raw { return self.delivery(stampedAt: Self.timestamp(in: payload)) }
            if self.isReady, let sentAt = Self.timestamp(in: payload) { return self.delivery(stampedAt: sentAt) }
            let confirmations = Self.count(self.confirmation, in: payload)
            if confirmations > 0 {
                guard self.unconfirmed > 0 else { return .ignored }
                self.unconfirmed = max(0, self.unconfirmed - confirmations)
                return self.unconfirmed == 0 ? .ready : .ignored
            }
            if Self.contains(self.errorMarker, in: payload) {
                return .error(String(buffer: payload.getSlice(at: payload.readerIndex, length: min(200, payload.readableBytes)) ?? payload))
            }
            if let sentAt = Self.timestamp(in: payload) { return self.delivery(stampedAt: sentAt) }
            return .ignored
        }

        func delivery(stampedAt sentAt: UInt64?) -> Event {
            if let sentAt, sentAt < self.since { return .stale }
            return .delivered(sentAt: sentAt)
        }

        /// The digits after the first `"t":` (or `\"t\":`, inside a Pusher data string), or nil if there are none.
        static func timestamp(in payload: ByteBuffer) -> UInt64? {
            payload.withUnsafeReadableBytes { bytes -> UInt64? in
                let count = bytes.count
                var index = 0
                // `"t":` is 0x22 0x74 0x22 0x3A; escaped, `\"t\":` is 0x5C 0x22 0x74 0x5C 0x22 0x3A.
                while index + 4 < count {
                    var digitsAt: Int?
                    if bytes[index] == 0x22, bytes[index + 1] == 0x74, bytes[index + 2] == 0x22, bytes[index + 3] == 0x3A {
                        digitsAt = index + 4
                    } else if index + 6 < count, bytes[index] == 0x5C, bytes[index + 1] == 0x22, bytes[index + 2] == 0x74,
                        bytes[index + 3] == 0x5C, bytes[index + 4] == 0x22, bytes[index + 5] == 0x3A
                    {
                        digitsAt = index + 6
                    }
                    if let start = digitsAt {
                        var cursor = start
                        var value: UInt64 = 0
                        while cursor < count, bytes[cursor] >= 0x30, bytes[cursor] <= 0x39 {
                            value = value &* 10 &+ UInt64(bytes[cursor] - 0x30)
                            cursor += 1
                        }
                        return cursor > start ? value : nil
                    }
                    index += 1
                }
                return nil
            }
        }

        /// How often `needle` occurs in `payload` (a JWT frame may carry several newline-separated replies).
        static func count(_ needle: StaticString, in payload: ByteBuffer) -> Int {
            needle.withUTF8Buffer { needle in
                payload.withUnsafeReadableBytes { bytes in
                    guard let first = needle.first, needle.count <= bytes.count else { return 0 }
                    var found = 0
                    var index = 0
                    while index + needle.count <= bytes.count {
                        if bytes[index] == first, zip(needle, bytes[index..<(index + needle.count)]).allSatisfy({ $0 == $1 }) {
                            found += 1
                            index += needle.count
                        } else {
                            index += 1
                        }
                    }
                    return found
                }
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
