public import NIOCore
public import SwitchboardAdapterKit
import SwitchboardCore

/// What the token a stream was opened with grants it: the key that signed it and when it lapses.
///
/// A stream lives no longer than its token: it ends at `exp`, or when the admin API revokes the signing key, after an
/// `unauthorized` event saying which. An EventSource then reconnects to the same URL, whose token is refused (401), so a
/// page opens a new stream with a fresh token and `lastEventId` to resume every channel with no gap.
public struct SSEStreamGrant: Sendable, Equatable {
    /// The app key that signed the token.
    public var signer: KeyFingerprint?
    /// `exp`, in seconds since the Unix epoch; nil for a token that never lapses.
    public var expiresAt: Int64?

    /// A grant from a verified token.
    public init(signer: KeyFingerprint?, expiresAt: Int64?) {
        self.signer = signer
        self.expiresAt = expiresAt
    }

    /// How long after `now` (Unix milliseconds) the stream may run; nil when the token does not lapse.
    public func remaining(now: Int64) -> Duration? {
        self.expiresAt.map { .milliseconds(max(0, $0 * 1000 - now)) }
    }

    /// Whether revoking the key `revoked` ends the stream.
    public func isSigned(by revoked: KeyFingerprint) -> Bool { self.signer == revoked }

    /// Why a stream ended before the client closed it.
    public enum Ending: String, Sendable {
        case tokenExpired = "token_expired"
        case tokenRevoked = "token_revoked"

        var message: String {
            switch self {
            case .tokenExpired: "the token has expired; open a new stream with a fresh token and lastEventId"
            case .tokenRevoked: "the key that signed the token was revoked; open a new stream with a fresh token and lastEventId"
            }
        }
    }

    /// The last event of a stream that ends for `ending`: `event: unauthorized`, data `{code, message}`, and no `id:`
    /// line, so the client's Last-Event-ID still names the last message it got.
    public static func notice(_ ending: Ending) -> ByteBuffer {
        var json = JSONWriter(capacity: 160)
        json.beginObject()
        json.member("code", ending.rawValue)
        json.member("message", ending.message)
        json.endObject()
        var buffer = ByteBufferAllocator().buffer(capacity: json.buffer.readableBytes + 32)
        buffer.writeStaticString("event: unauthorized\n")
        SSEEncoder.writeData(json.buffer, to: &buffer)
        return buffer
    }
}
