public import NIOCore

/// Cuts a client frame that announces more than `limit()` bytes down to `limit() + 1` before NIOWebSocket's decoder
/// holds it: the decoder's own cap is fixed for the listener (4 MB), so any key holder could make every socket pin
/// 4 MB whatever its app's plan.
///
/// It sits before the decoder and reads only frame headers, passing payloads through as they come. An oversized frame
/// goes on with its header rewritten to the shorter length and the rest of its payload dropped, so the message is
/// refused where every message over the plan is (the assembler): JSON-action answers `message_too_large` and goes on,
/// the other protocols close with 1009. Masking is per byte from the payload's start, so a cut payload unmasks as it
/// would have.
public final class WebSocketFrameSizeGuard: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    /// The largest payload allowed now, asked at each frame header (so a plan change applies to the next frame).
    let limit: () -> Int
    /// The header being read (at most 14 bytes).
    private var header: [UInt8] = []
    /// The header began in an earlier read: its bytes were held back, and are passed on once it is whole.
    private var headerHeld = false
    /// Payload bytes of the current frame still to pass on, and then to drop.
    private var forward: UInt64 = 0
    private var drop: UInt64 = 0

    /// A guard allowing frames of `limit()` bytes.
    public init(limit: @escaping () -> Int) {
        self.limit = limit
        self.header.reserveCapacity(14)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = Self.unwrapInboundIn(data)
        let bytes = buffer.readableBytesView
        let base = bytes.startIndex
        var index = base
        // The bytes of this read from `runStart` on pass as they are, up to a point where something else must go.
        var runStart = base
        var headerStart = base
        func pass(upTo end: Int) {
            guard end > runStart, let run = buffer.getSlice(at: buffer.readerIndex + (runStart - base), length: end - runStart) else { return }
            context.fireChannelRead(Self.wrapInboundOut(run))
        }
        while index < bytes.endIndex {
            let left = UInt64(bytes.endIndex - index)
            if self.forward > 0 {
                let step = min(self.forward, left)
                index += Int(step)
                self.forward -= step
                continue
            }
            if self.drop > 0 {
                pass(upTo: index)
                let step = min(self.drop, left)
                index += Int(step)
                self.drop -= step
                runStart = index
                continue
            }
            if self.header.isEmpty { headerStart = index }
            self.header.append(bytes[index])
            index += 1
            guard let length = self.payloadLength() else { continue }
            let allowed = min(length, UInt64(max(0, self.limit())) + 1)
            if allowed < length {
                pass(upTo: self.headerHeld ? runStart : headerStart)
                context.fireChannelRead(Self.wrapInboundOut(self.rewrittenHeader(length: allowed, allocator: context.channel.allocator)))
                runStart = index
            } else if self.headerHeld {
                context.fireChannelRead(Self.wrapInboundOut(ByteBuffer(bytes: self.header)))
                runStart = index
            }
            self.forward = allowed
            self.drop = length - allowed
            self.header.removeAll(keepingCapacity: true)
            self.headerHeld = false
        }
        if self.header.isEmpty {
            pass(upTo: index)
        } else {
            // A header split across reads waits whole: it may need rewriting.
            pass(upTo: self.headerHeld ? runStart : headerStart)
            self.headerHeld = true
        }
    }

    /// The payload length once `header` holds a whole frame header, else nil.
    private func payloadLength() -> UInt64? {
        guard self.header.count >= 2 else { return nil }
        let short = self.header[1] & 0x7F
        let extended = short == 126 ? 2 : short == 127 ? 8 : 0
        guard self.header.count == 2 + extended + (self.header[1] & 0x80 != 0 ? 4 : 0) else { return nil }
        guard extended > 0 else { return UInt64(short) }
        return self.header[2..<(2 + extended)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    /// The current header announcing `length` instead: the same first byte and mask key, an 8-byte length.
    private func rewrittenHeader(length: UInt64, allocator: ByteBufferAllocator) -> ByteBuffer {
        let masked = self.header[1] & 0x80 != 0
        var rewritten = allocator.buffer(capacity: 14)
        rewritten.writeInteger(self.header[0])
        rewritten.writeInteger((masked ? 0x80 : 0) | 127 as UInt8)
        rewritten.writeInteger(length)
        if masked { rewritten.writeBytes(self.header.suffix(4)) }
        return rewritten
    }
}
