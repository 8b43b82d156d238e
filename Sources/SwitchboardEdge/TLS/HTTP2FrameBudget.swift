import NIOCore
import SwitchboardCore

/// Bounds the h2 frames that carry no request, before NIOHTTP2 handles them: it limits SETTINGS, PRIORITY, RST_STREAM
/// and empty DATA floods itself, but answers WINDOW_UPDATE and ignores unknown frame types at any rate, so one
/// connection could keep a core busy (1.5M frames in 8 s) and slow every other client.
///
/// It sits between TLS and the h2 handler, reads only frame headers and passes every byte on unchanged. Past the
/// budget (`perSecond`, bursts of `burst`) it sends GOAWAY `ENHANCE_YOUR_CALM`, as NIOHTTP2 does for the floods it
/// knows, closes the connection and reports it.
final class HTTP2FrameBudget: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// Control frames a connection may send per second (a client acknowledging SSE data sends a few hundred).
    static let perSecond = 1_000.0
    static let burst = 2_000.0
    /// Frame types that carry a request: DATA, HEADERS, CONTINUATION. Every other type is counted.
    static let requestTypes: Set<UInt8> = [0x0, 0x1, 0x9]

    let report: @Sendable (SocketAddress?) -> Void
    /// Monotonic seconds (a test passes a clock that stands still, so a slow machine cannot refill the budget).
    let now: () -> Double
    private var budget: TokenBucket
    /// Bytes of the client's connection preface still to pass before the first frame.
    private var prefaceLeft = 24
    private var header: [UInt8] = []
    /// Payload bytes of the current frame still to pass.
    private var skip = 0
    private var closed = false

    init(now: @escaping () -> Double = MonotonicClock.seconds, report: @escaping @Sendable (SocketAddress?) -> Void) {
        self.report = report
        self.now = now
        self.budget = TokenBucket(capacity: Self.burst, refillPerSecond: Self.perSecond, now: now())
        self.header.reserveCapacity(9)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.closed else { return }
        let bytes = Self.unwrapInboundIn(data).readableBytesView
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let left = bytes.endIndex - index
            if self.prefaceLeft > 0 || self.skip > 0 {
                let step = min(self.prefaceLeft > 0 ? self.prefaceLeft : self.skip, left)
                if self.prefaceLeft > 0 { self.prefaceLeft -= step } else { self.skip -= step }
                index += step
                continue
            }
            self.header.append(bytes[index])
            index += 1
            guard self.header.count == 9 else { continue }
            self.skip = Int(self.header[0]) << 16 | Int(self.header[1]) << 8 | Int(self.header[2])
            let type = self.header[3]
            self.header.removeAll(keepingCapacity: true)
            if !Self.requestTypes.contains(type), !self.budget.take(1, now: self.now()) {
                return self.refuse(context: context)
            }
        }
        context.fireChannelRead(data)
    }

    private func refuse(context: ChannelHandlerContext) {
        self.closed = true
        self.report(context.channel.remoteAddress)
        // GOAWAY on stream 0: last stream 0, error ENHANCE_YOUR_CALM (0xb).
        let goAway: [UInt8] = [0, 0, 8, 0x7, 0, 0, 0, 0, 0] + [0, 0, 0, 0] + [0, 0, 0, 0xb]
        let channel = context.channel
        context.writeAndFlush(NIOAny(channel.allocator.buffer(bytes: goAway))).whenComplete { _ in channel.close(promise: nil) }
    }
}
