import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore

/// Holds each accepted TCP connection to `[limits] max_sockets_per_ip` per peer address, before TLS or HTTP reads a byte.
///
/// `max_connections_per_ip` counts WebSocket connections and SSE streams only once a request is admitted: plain HTTP
/// keep-alive and h2 connections, TLS handshakes and request bodies sent a byte a minute were not counted, so one
/// address could hold every descriptor the process has. A trusted proxy carries many clients and is not counted
/// (`[server] trusted_proxies` as it is when the connection is accepted). A peer in `[server] blocked_addresses` is
/// closed unread, trusted or not.
struct SocketAdmission: Sendable {
    let sockets: ConnectionsByAddress
    let limits: LiveLimits
    let trusted: LiveSetting<TrustedProxies>
    let blocked: LiveSetting<AddressRanges>
    let gate: Gate
    /// Where an admitted socket is kept, so a later block of its address closes it.
    let open: OpenSockets

    /// Whether `channel` may be served; its place is given back when it closes. A refusal is a `rate_limited` event, or
    /// `address_blocked` for a blocked peer.
    func admit(_ channel: any Channel) -> Bool {
        guard let peer = channel.remoteAddress else { return true }
        let blocked = self.blocked.current
        if !blocked.isEmpty, let address = IPAddress(peer), blocked.contains(address) {
            self.gate.report(.addressBlocked, app: nil, caller: Caller(ip: peer.ipAddress), detail: "blocked address: closed at accept")
            return false
        }
        guard !self.trusted.current.trusts(peer) else { return true }
        let limit = self.limits.current.maxSocketsPerIP
        guard let hold = self.sockets.hold(ip: peer.ipAddress, limit: limit) else {
            let detail = "more than \(limit) open sockets from \(peer.ipAddress ?? "one address"): closed at accept"
            self.gate.report(.rateLimited, app: nil, caller: Caller(ip: peer.ipAddress), detail: detail)
            return false
        }
        // An uncounted address's hold has nothing to give back, and it is trusted as the host is (loopback unless
        // configured): its connections keep no callback and no place among the sockets a block closes.
        guard hold.counts else { return true }
        let open = IPAddress(peer).map { address in
            self.open.add(channel, address: address)
            return self.open
        }
        channel.closeFuture.whenComplete { _ in
            hold.release()
            open?.remove(channel)
        }
        return true
    }
}

/// A listener's connections, each admitted by a `SocketAdmission` before `inner` sets it up; a refused one is closed
/// unread.
struct AdmittedChannel<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value

    /// Why a refused connection's setup failed: NIO then never registers it.
    struct Refused: Error {}

    let inner: Inner
    let admission: SocketAdmission

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        guard self.admission.admit(channel) else {
            // A failed setup is dropped without a close (NIOAsyncChannelHandler leaves that to the initializer).
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(Refused())
        }
        return self.inner.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await self.inner.handle(value: value, logger: logger)
    }
}
