import Crypto
import Foundation
public import NIOCore

/// JSON Web Tokens signed with an HMAC of an app secret: connection tokens and channel tokens.
///
/// `HS256`, `HS384` and `HS512` are accepted, as Centrifugo accepts them (never `none`, never a public-key algorithm);
/// the header's algorithm picks the hash, so a MAC made with another one does not verify. The signature is compared in
/// constant time, and `exp` and `nbf` are enforced. Every secret of the app verifies, so rotation has an overlap.
/// Tokens the edge mints are HS256.
public enum HMACToken {
    /// Why a token was refused.
    public enum Failure: Error, Equatable, Sendable {
        /// Not three base64url parts of JSON.
        case malformed
        /// The header names an algorithm that is not an HMAC (`none`, `RS256`, ...).
        case unsupportedAlgorithm(String)
        /// No secret of the app produced this signature.
        case badSignature
        /// The token is not valid now: `exp` is in the past or `nbf` in the future (Centrifugo answers both as expired).
        case expired
    }

    /// The claims a verified token carries.
    public struct Claims: Sendable {
        /// The whole payload.
        public let payload: JSONObject
        /// Which of the app's secrets signed the token, so the grant can end when that key is revoked.
        public let signer: KeyFingerprint?

        /// Claims read from `payload`, signed by the secret `signer` names.
        public init(payload: JSONObject, signer: KeyFingerprint? = nil) {
            self.payload = payload
            self.signer = signer
        }

        /// `sub`: the user id (may be empty for anonymous).
        public var subject: String? { self.payload.string("sub") }
        /// `exp`: seconds since the Unix epoch, a fraction dropped.
        public var expiresAt: Int64? { Self.numericDate(self.payload, "exp").map { Int64($0.rounded(.down)) } }
        /// `nbf`: seconds since the Unix epoch before which the token is not valid, a fraction rounded up.
        public var notBefore: Int64? { Self.numericDate(self.payload, "nbf").map { Int64($0.rounded(.up)) } }
        /// `channel`: the one channel a channel token is for.
        public var channel: String? { self.payload.string("channel") }
        /// `channels`: server-side subscriptions of a connection token.
        public var channels: [String] { self.payload.strings("channels") ?? [] }
        /// `permissions`: what a channel token allows (`subscribe`, `publish`).
        public var permissions: [String]? { self.payload.strings("permissions") }
        /// `info`: raw JSON attached to the user.
        public var info: ByteBuffer? { self.payload.raw("info") }

        /// A NumericDate claim (RFC 7519 §2): a JSON number, whole or fractional (`time.time() + 3600`), or a string of
        /// digits as some signers write it; nil when absent or anything else.
        static func numericDate(_ payload: JSONObject, _ key: String) -> Double? {
            if let text = payload.string(key) { return Int64(text).map(Double.init) }
            guard let seconds = payload.double(key), seconds.isFinite, abs(seconds) < 1e15 else { return nil }
            return seconds
        }
    }

    /// Signs `payload` (a JSON object's bytes) with `secret`.
    public static func sign(payload: ByteBuffer, secret: String) -> String {
        let header = base64URL(Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        let body = base64URL(Data(payload.readableBytesView))
        let input = header + "." + body
        let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return input + "." + base64URL(Data(mac))
    }

    /// Verifies `token` against any of `secrets` at `now` (seconds since the Unix epoch); the claims name the secret that
    /// signed it (`signer`). Every secret is tried, so the time taken does not tell which one matched.
    public static func verify(_ token: String, secrets: [String], now: Int64) throws(Failure) -> Claims {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerData = decodeBase64URL(parts[0]), let payloadData = decodeBase64URL(parts[1]),
            let signature = decodeBase64URL(parts[2])
        else { throw .malformed }
        guard let header = try? JSONObject(parsing: ByteBuffer(bytes: headerData)) else { throw .malformed }
        let algorithm = header.string("alg") ?? ""
        let input = Data(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        let isValid: (String) -> Bool
        switch algorithm {
        case "HS256": isValid = { Self.isValid(signature, of: input, secret: $0, hash: SHA256.self) }
        case "HS384": isValid = { Self.isValid(signature, of: input, secret: $0, hash: SHA384.self) }
        case "HS512": isValid = { Self.isValid(signature, of: input, secret: $0, hash: SHA512.self) }
        default: throw .unsupportedAlgorithm(algorithm)
        }
        var matched: String?
        for secret in secrets where isValid(secret) { matched = matched ?? secret }
        guard let matched else { throw .badSignature }
        guard let payload = try? JSONObject(parsing: ByteBuffer(bytes: payloadData)) else { throw .malformed }
        let claims = Claims(payload: payload, signer: KeyFingerprint(secret: matched))
        for key in ["exp", "nbf"] where payload.has(key) && Claims.numericDate(payload, key) == nil { throw .malformed }
        if let exp = claims.expiresAt, exp <= now { throw .expired }
        if let notBefore = claims.notBefore, notBefore > now { throw .expired }
        return claims
    }

    static func isValid<Hash: HashFunction>(_ signature: Data, of input: Data, secret: String, hash: Hash.Type) -> Bool {
        HMAC<Hash>.isValidAuthenticationCode(signature, authenticating: input, using: SymmetricKey(data: Data(secret.utf8)))
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decodeBase64URL(_ text: Substring) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}

extension HMACToken {
    /// Builds and signs a token from the usual claims; used by `switchboard token` and the REST token endpoint.
    public static func mint(
        secret: String,
        subject: String?,
        expiresAt: Int64?,
        channel: String? = nil,
        channels: [String]? = nil,
        permissions: [String]? = nil,
        info: ByteBuffer? = nil
    ) -> String {
        var writer = JSONWriter()
        writer.beginObject()
        if let subject { writer.member("sub", subject) }
        if let expiresAt { writer.member("exp", expiresAt) }
        if let channel { writer.member("channel", channel) }
        if let channels {
            writer.key("channels")
            writer.beginArray()
            for name in channels { writer.string(name) }
            writer.endArray()
        }
        if let permissions {
            writer.key("permissions")
            writer.beginArray()
            for permission in permissions { writer.string(permission) }
            writer.endArray()
        }
        if let info { writer.member("info", raw: info) }
        writer.endObject()
        return sign(payload: writer.buffer, secret: secret)
    }
}
