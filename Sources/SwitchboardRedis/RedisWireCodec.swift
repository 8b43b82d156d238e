public import NIOCore
public import SwitchboardCore

/// The compact binary form of bus messages in Redis: pub/sub payloads and history entries.
///
/// A body is version byte `1`, then big-endian fields: a publication is `timestamp:i64`, `app`, `channel`,
/// `event?`, `userID?`, `sender?` (node id and connection number), then `data` as `u32` length and the bytes
/// exactly as published. Strings are `u32` length + UTF-8; an optional is a `0`/`1` byte before it.
/// A publication with tags or a publishing client adds fields after `data`, each `id:u8`, `length:u32`, bytes:
/// `1` tags (`count:u16`, then key and value strings), `2` client id, `3` conn info (JSON bytes). A body without
/// them is what it was before they existed; a node reads past fields it does not know and older nodes stop at `data`,
/// so a cluster mid-upgrade keeps delivering either way.
/// A presence change is `kind:u8`, `timestamp:i64`, `app`, `channel`, `userID`, `lastSeen:i64`, `metadata`; one with
/// a cause adds, after `metadata` and in the same `id:u8`, `length:u32`, bytes form, `1` cause (node id string and
/// connection number, like a publication's sender). Older nodes stop at `metadata`; the cause is never theirs anyway.
///
/// A pub/sub payload starts with one tag byte: `p` + publication body; `h<offset>:<epoch>:` + publication
/// body for a publication kept in history (the Lua publish script writes that prefix, since it assigns the
/// offset); `c` + presence body. History entries hold the publication body alone; their stream id is the offset.
public struct RedisWireCodec: Sendable {
    /// This node's id, written with each sender. Connection ids are unique across nodes (`Bus` starts them at a random
    /// prefix), so a sender from another node is kept: a Pusher `socket_id` sent to node A excludes its socket on node B.
    public let nodeID: String

    /// Creates a codec for the node `nodeID`.
    public init(nodeID: String) { self.nodeID = nodeID }

    /// Why a payload could not be decoded.
    public struct DecodeError: Error, Sendable, Equatable {
        /// What was wrong.
        public var reason: String
    }

    // MARK: Publications

    /// The body of `publication` (position excluded).
    public func encode(_ publication: Publication) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(publication.data.readableBytes + publication.channel.utf8.count + 64)
        out.writeInteger(UInt8(1))
        out.writeInteger(publication.timestamp)
        Self.writeString(publication.app, into: &out)
        Self.writeString(publication.channel, into: &out)
        Self.writeOptional(publication.event, into: &out)
        Self.writeOptional(publication.userID, into: &out)
        if let sender = publication.sender {
            out.writeInteger(UInt8(1))
            Self.writeString(self.nodeID, into: &out)
            out.writeInteger(sender.raw)
        } else {
            out.writeInteger(UInt8(0))
        }
        out.writeInteger(UInt32(publication.data.readableBytes))
        var data = publication.data
        out.writeBuffer(&data)
        if !publication.tags.isEmpty || publication.clientID != nil || publication.connInfo != nil { Self.writeExtras(publication, into: &out) }
        return out
    }

    /// Field ids of what follows `data`.
    private enum Extra {
        static let tags: UInt8 = 1
        static let clientID: UInt8 = 2
        static let connInfo: UInt8 = 3
    }

    private static func writeExtras(_ publication: Publication, into out: inout ByteBuffer) {
        if !publication.tags.isEmpty {
            out.writeInteger(Extra.tags)
            let lengthAt = out.writerIndex
            out.writeInteger(UInt32(0))
            out.writeInteger(UInt16(clamping: publication.tags.count))
            for (key, value) in publication.tags.prefix(Int(UInt16.max)) {
                Self.writeString(key, into: &out)
                Self.writeString(value, into: &out)
            }
            out.setInteger(UInt32(out.writerIndex - lengthAt - 4), at: lengthAt)
        }
        if let client = publication.clientID {
            out.writeInteger(Extra.clientID)
            Self.writeString(client, into: &out)
        }
        if var info = publication.connInfo {
            out.writeInteger(Extra.connInfo)
            out.writeInteger(UInt32(info.readableBytes))
            out.writeBuffer(&info)
        }
    }

    /// Reads the optional fields that follow a body (`id:u8`, `length:u32`, bytes) until its end, handing each to `read`.
    private static func readFields(
        _ input: inout ByteBuffer,
        _ read: (UInt8, inout ByteBuffer) throws(DecodeError) -> Void
    ) throws(DecodeError) {
        while input.readableBytes > 0 {
            guard let id = input.readInteger(as: UInt8.self), let length = input.readInteger(as: UInt32.self),
                var field = input.readSlice(length: Int(length))
            else { throw DecodeError(reason: "truncated field") }
            try read(id, &field)
        }
    }

    private static func readExtras(_ input: inout ByteBuffer, into publication: inout Publication) throws(DecodeError) {
        try Self.readFields(&input) { (id, field) throws(DecodeError) in
            switch id {
            case Extra.tags:
                guard let count = field.readInteger(as: UInt16.self) else { throw DecodeError(reason: "truncated tags") }
                var tags: [String: String] = [:]
                tags.reserveCapacity(Int(count))
                for _ in 0..<count {
                    let key = try Self.readString(&field)
                    tags[key] = try Self.readString(&field)
                }
                publication.tags = tags
            case Extra.clientID: publication.clientID = field.readString(length: field.readableBytes)
            case Extra.connInfo: publication.connInfo = field
            default: break  // written by a newer node
            }
        }
    }

    /// Decodes a publication body, attaching `position`.
    public func decodePublication(_ body: ByteBuffer, position: StreamPosition? = nil) throws(DecodeError) -> Publication {
        var input = body
        guard input.readInteger(as: UInt8.self) == 1 else { throw DecodeError(reason: "unknown publication version") }
        guard let timestamp = input.readInteger(as: Int64.self) else { throw DecodeError(reason: "truncated timestamp") }
        let app = try Self.readString(&input)
        let channel = try Self.readString(&input)
        let event = try Self.readOptional(&input)
        let userID = try Self.readOptional(&input)
        var sender: ConnectionID?
        switch input.readInteger(as: UInt8.self) {
        case 0: break
        case 1:
            _ = try Self.readString(&input)  // the publishing node, for debugging
            guard let raw = input.readInteger(as: UInt64.self) else { throw DecodeError(reason: "truncated sender") }
            sender = ConnectionID(raw)
        default: throw DecodeError(reason: "bad sender flag")
        }
        guard let length = input.readInteger(as: UInt32.self), let data = input.readSlice(length: Int(length)) else {
            throw DecodeError(reason: "truncated data")
        }
        var publication = Publication(
            app: app,
            channel: channel,
            event: event,
            data: data,
            userID: userID,
            sender: sender,
            position: position,
            timestamp: timestamp
        )
        if input.readableBytes > 0 { try Self.readExtras(&input, into: &publication) }
        return publication
    }

    // MARK: Presence

    /// The body of a presence change.
    public func encode(_ change: PresenceChange) -> ByteBuffer {
        var out = ByteBuffer()
        out.writeInteger(UInt8(1))
        let kind: UInt8 =
            switch change.kind {
            case .join: 0
            case .update: 1
            case .leave: 2
            case .connectionJoin: 3
            case .connectionLeave: 4
            }
        out.writeInteger(kind)
        out.writeInteger(change.timestamp)
        Self.writeString(change.app, into: &out)
        Self.writeString(change.channel, into: &out)
        Self.writeString(change.member.userID, into: &out)
        out.writeInteger(change.member.lastSeen)
        out.writeInteger(UInt32(change.member.metadata.readableBytes))
        var metadata = change.member.metadata
        out.writeBuffer(&metadata)
        if let cause = change.cause {
            out.writeInteger(PresenceExtra.cause)
            let lengthAt = out.writerIndex
            out.writeInteger(UInt32(0))
            Self.writeString(self.nodeID, into: &out)
            out.writeInteger(cause.raw)
            out.setInteger(UInt32(out.writerIndex - lengthAt - 4), at: lengthAt)
        }
        if var joined = change.holderMetadata {
            out.writeInteger(PresenceExtra.holderMetadata)
            out.writeInteger(UInt32(joined.readableBytes))
            out.writeBuffer(&joined)
        }
        return out
    }

    /// Field ids of what follows a presence change's `metadata`.
    private enum PresenceExtra {
        static let cause: UInt8 = 1
        static let holderMetadata: UInt8 = 2
    }

    private static func readPresenceExtras(_ input: inout ByteBuffer, into change: inout PresenceChange) throws(DecodeError) {
        try Self.readFields(&input) { (id, field) throws(DecodeError) in
            switch id {
            case PresenceExtra.cause:
                _ = try Self.readString(&field)  // the causing node, for debugging
                guard let raw = field.readInteger(as: UInt64.self) else { throw DecodeError(reason: "truncated cause") }
                change.cause = ConnectionID(raw)
            case PresenceExtra.holderMetadata:
                change.holderMetadata = field
            default: break  // written by a newer node
            }
        }
    }

    /// Decodes a presence change body.
    public func decodePresence(_ body: ByteBuffer) throws(DecodeError) -> PresenceChange {
        var input = body
        guard input.readInteger(as: UInt8.self) == 1 else { throw DecodeError(reason: "unknown presence version") }
        let kind: PresenceChange.Kind
        switch input.readInteger(as: UInt8.self) {
        case 0: kind = .join
        case 1: kind = .update
        case 2: kind = .leave
        case 3: kind = .connectionJoin
        case 4: kind = .connectionLeave
        default: throw DecodeError(reason: "bad presence kind")
        }
        guard let timestamp = input.readInteger(as: Int64.self) else { throw DecodeError(reason: "truncated timestamp") }
        let app = try Self.readString(&input)
        let channel = try Self.readString(&input)
        let userID = try Self.readString(&input)
        guard let lastSeen = input.readInteger(as: Int64.self), let length = input.readInteger(as: UInt32.self),
            let metadata = input.readSlice(length: Int(length))
        else { throw DecodeError(reason: "truncated member") }
        var change = PresenceChange(
            app: app,
            channel: channel,
            kind: kind,
            member: PresenceMember(userID: userID, metadata: metadata, lastSeen: lastSeen),
            timestamp: timestamp
        )
        if input.readableBytes > 0 { try Self.readPresenceExtras(&input, into: &change) }
        return change
    }

    // MARK: Pub/sub payloads

    /// The pub/sub payload of a publication without a position.
    public func payload(_ publication: Publication) -> ByteBuffer {
        var out = ByteBuffer(integer: UInt8(ascii: "p"))
        var body = self.encode(publication)
        out.writeBuffer(&body)
        return out
    }

    /// The pub/sub payload of a presence change.
    public func payload(_ change: PresenceChange) -> ByteBuffer {
        var out = ByteBuffer(integer: UInt8(ascii: "c"))
        var body = self.encode(change)
        out.writeBuffer(&body)
        return out
    }

    /// Decodes a pub/sub payload into the bus message it carries.
    public func decodePayload(_ payload: ByteBuffer) throws(DecodeError) -> BusMessage {
        var input = payload
        switch input.readInteger(as: UInt8.self) {
        case UInt8(ascii: "p"): return .publication(try self.decodePublication(input))
        case UInt8(ascii: "c"): return .presence(try self.decodePresence(input))
        case UInt8(ascii: "h"):
            guard let offsetText = Self.readField(&input), let offset = UInt64(offsetText), let epoch = Self.readField(&input) else {
                throw DecodeError(reason: "bad position prefix")
            }
            return .publication(try self.decodePublication(input, position: StreamPosition(offset: offset, epoch: epoch)))
        default: throw DecodeError(reason: "unknown payload tag")
        }
    }

    // MARK: Primitives

    private static func readField(_ input: inout ByteBuffer) -> String? {
        guard let colon = input.readableBytesView.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        let text = input.readString(length: colon - input.readerIndex)
        input.moveReaderIndex(forwardBy: 1)
        return text
    }

    private static func writeString(_ text: String, into out: inout ByteBuffer) {
        out.writeInteger(UInt32(text.utf8.count))
        out.writeString(text)
    }

    private static func writeOptional(_ text: String?, into out: inout ByteBuffer) {
        guard let text else {
            out.writeInteger(UInt8(0))
            return
        }
        out.writeInteger(UInt8(1))
        Self.writeString(text, into: &out)
    }

    private static func readString(_ input: inout ByteBuffer) throws(DecodeError) -> String {
        guard let length = input.readInteger(as: UInt32.self), let text = input.readString(length: Int(length)) else {
            throw DecodeError(reason: "truncated string")
        }
        return text
    }

    private static func readOptional(_ input: inout ByteBuffer) throws(DecodeError) -> String? {
        switch input.readInteger(as: UInt8.self) {
        case 0: return nil
        case 1: return try Self.readString(&input)
        default: throw DecodeError(reason: "bad optional flag")
        }
    }
}
