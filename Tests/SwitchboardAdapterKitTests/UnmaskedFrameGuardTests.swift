import NIOCore
import NIOEmbedded
import NIOWebSocket
import Synchronization
import Testing

@testable import SwitchboardAdapterKit

/// An unmasked client frame closes the connection with 1002 (RFC 6455 §5.1); the installer puts the guard right after
/// the frame decoder when an upgrade adds it, before any frame is read.
@Suite struct UnmaskedFrameGuardTests {
    /// A pipeline as after a WebSocket upgrade: the installer, then the decoder and encoder an upgrade adds, then an event.
    final class Reports: Sendable {
        let count = Mutex(0)
    }

    func upgradedChannel(reported: Reports = Reports()) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        let installer = UnmaskedFrameGuard.Installer(onUnmasked: { _ in reported.count.withLock { $0 += 1 } })
        try channel.pipeline.syncOperations.addHandler(installer)
        // As the edge upgrades: the decoder only, since the connection handler writes whole frames itself.
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 1 << 16)))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        channel.pipeline.fireUserInboundEventTriggered("upgraded")
        return channel
    }

    func frameBytes(_ frame: WebSocketFrame, channel: EmbeddedChannel) throws -> ByteBuffer {
        let encoder = EmbeddedChannel(handler: WebSocketFrameEncoder())
        try encoder.writeOutbound(frame)
        var bytes = encoder.allocator.buffer(capacity: 64)
        while var part = try encoder.readOutbound(as: ByteBuffer.self) { bytes.writeBuffer(&part) }
        _ = try encoder.finish()
        return bytes
    }

    @Test func maskedFramesPassThrough() throws {
        let channel = try upgradedChannel()
        let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: ByteBuffer(string: "hi"))
        try channel.writeInbound(try frameBytes(frame, channel: channel))
        let received = try #require(try channel.readInbound(as: WebSocketFrame.self))
        #expect(received.unmaskedData == ByteBuffer(string: "hi"))
        #expect(channel.isActive)
        #expect(try channel.finish().isClean)
    }

    @Test(arguments: [WebSocketOpcode.text, .binary, .ping, .connectionClose])
    func anUnmaskedFrameIsAnsweredWithClose1002AndTheConnectionCloses(_ opcode: WebSocketOpcode) throws {
        let reported = Reports()
        let channel = try upgradedChannel(reported: reported)
        let unmasked = WebSocketFrame(fin: true, opcode: opcode, data: ByteBuffer(string: "hi"))
        let masked = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: ByteBuffer(string: "after"))
        var bytes = try frameBytes(unmasked, channel: channel)
        var after = try frameBytes(masked, channel: channel)
        bytes.writeBuffer(&after)
        try channel.writeInbound(bytes)
        // Nothing reaches the application: neither the unmasked frame nor what followed it.
        #expect(try channel.readInbound(as: WebSocketFrame.self) == nil)
        var written = ByteBuffer()
        while var part = try channel.readOutbound(as: ByteBuffer.self) { written.writeBuffer(&part) }
        // An unmasked close frame carrying 1002.
        let first = written.readInteger(as: UInt8.self)
        let length = written.readInteger(as: UInt8.self)
        let code = written.readInteger(as: UInt16.self)
        #expect(first == 0x88)
        #expect(length.map { $0 & 0x80 } == 0)
        #expect(code == 1002)
        #expect(!channel.isActive)
        #expect(reported.count.withLock { $0 } == 1)
    }

    @Test func theInstallerLeavesOnceTheGuardIsInPlace() throws {
        let channel = try upgradedChannel()
        #expect((try? channel.pipeline.syncOperations.handler(type: UnmaskedFrameGuard.Installer.self)) == nil)
        #expect((try? channel.pipeline.syncOperations.handler(type: UnmaskedFrameGuard.self)) != nil)
        _ = try channel.finish()
    }

    @Test func theInstallerLeavesAPlainHTTPConnectionAtItsFirstRequest() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(UnmaskedFrameGuard.Installer())
        try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"))
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"))
        #expect((try? channel.pipeline.syncOperations.handler(type: UnmaskedFrameGuard.Installer.self)) == nil)
        #expect(try channel.finish().isClean)
    }
}
