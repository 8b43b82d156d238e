import NIOCore

extension Bench {
    /// Counts the bytes a subscriber reads off its socket (frame headers included), for bytes on the wire per delivery.
    final class WireByteCounter: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer

        private let tally: NIOLoopBoundBox<Tally>

        init(tally: NIOLoopBoundBox<Tally>) { self.tally = tally }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            self.tally.value.wireBytes += UInt64(self.unwrapInboundIn(data).readableBytes)
            context.fireChannelRead(data)
        }
    }
}
