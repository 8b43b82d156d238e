import Crypto
import Foundation

/// Names an app secret without holding it: the first 8 bytes of the secret's SHA-256.
///
/// A connection remembers, per grant (a channel token, a connection token, a Pusher auth signature), the
/// fingerprint of the secret that signed it; when the admin API revokes that key, the grants with its fingerprint
/// are found and ended. The fingerprint never leaves the process and cannot be turned back into the secret.
public struct KeyFingerprint: Sendable, Hashable, CustomStringConvertible {
    /// The first 8 bytes of SHA-256(secret), big-endian.
    public let raw: UInt64

    /// The fingerprint of `secret`.
    public init(secret: String) {
        let digest = SHA256.hash(data: Data(secret.utf8))
        self.raw = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    /// 16 lowercase hex digits.
    public var description: String {
        let hex = String(self.raw, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
