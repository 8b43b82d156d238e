public import HTTPTypes
public import Hummingbird
public import NIOCore
public import SwitchboardCore
import Synchronization

/// Which WebSocket upgrades get permessage-deflate, and the deflater their sessions share.
///
/// Each route decides per app: it adds the response header (`upgradeHeaders`) when the app allows compression and the
/// client offered it; the transport then inflates what that client sends (`MessageInflater`), and the session of the
/// same connection gets the shared deflater (`compressor`). The agreement is remembered per connection, not
/// recomputed, so no client that was not sent the header ever gets an RSV1 frame, and none may send one.
///
/// ```swift
/// webSocket.socket("/_rt/ws") { request, context in .upgrade(compression.upgradeHeaders(request, app: app, channel: context.channel)) } ...
/// let session = Session(connectionID: id, app: app, encoder: encoder, compressor: compression.compressor(channel: context.channel))
/// ```
public struct WebSocketCompression: Sendable {
    /// Compresses broadcasts once for every compressing session.
    public let deflater: FrameDeflater
    /// Connections whose upgrade response agreed to compression, until they close.
    private let agreed = Agreements()

    final class Agreements: Sendable {
        let channels = Mutex<Set<ObjectIdentifier>>([])
    }

    /// Compression that leaves messages shorter than `minBytes` (`[limits] compression_min_bytes`) plain.
    public init(minBytes: Int = 256) {
        self.deflater = FrameDeflater(minBytes: minBytes)
    }

    /// The offer to accept from a client of `app`, or nil when the app keeps compression off or the client offered none we accept.
    public func acceptableOffer(_ request: Request, app: App?) -> PerMessageDeflateOffer? {
        guard let app, app.websocketCompression else { return nil }
        return PerMessageDeflateOffer.first(in: request.headers)
    }

    /// The headers to upgrade `channel` with: `Sec-WebSocket-Extensions` when compression is agreed (and then
    /// remembered for `compressor(channel:)`), else none.
    public func upgradeHeaders(_ request: Request, app: App?, channel: any Channel) -> HTTPFields {
        guard let offer = self.acceptableOffer(request, app: app) else { return [:] }
        let id = ObjectIdentifier(channel)
        let agreed = self.agreed
        agreed.channels.withLock { _ = $0.insert(id) }
        channel.closeFuture.whenComplete { _ in agreed.channels.withLock { _ = $0.remove(id) } }
        return [.secWebSocketExtensions: offer.response]
    }

    /// The compressor of the session on `channel`: the deflater exactly when its upgrade agreed compression.
    public func compressor(channel: any Channel) -> FrameDeflater? {
        self.agreed.channels.withLock { $0.contains(ObjectIdentifier(channel)) } ? self.deflater : nil
    }
}
