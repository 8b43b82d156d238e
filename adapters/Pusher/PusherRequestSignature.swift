public import NIOCore
import SwitchboardAdapterKit

/// The HTTP API's query-string signature: `auth_signature` is the HMAC-SHA256 hex, with an app secret, of
/// `METHOD\nPATH\nQUERY` where QUERY is every other parameter, keys lowercased, sorted by key, joined as
/// `k=v` with `&`, values not URL-encoded. `auth_timestamp` must be within 600 s of now, `auth_version` 1.0,
/// and `body_md5` the MD5 hex of a non-empty body.
public struct PusherRequestSignature: Sendable {
    /// Why a request's signature was refused; the message is safe to show the caller.
    public struct Failure: Error, Equatable, Sendable, CustomStringConvertible {
        /// What was wrong.
        public let message: String
        public var description: String { self.message }
    }

    /// The query parameters, percent-decoded, in the order given.
    public let parameters: [(key: String, value: String)]

    /// Reads the parameters of a raw query string (`a=1&b=2`).
    public init(query: String?) {
        var parameters: [(String, String)] = []
        for pair in (query ?? "").split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = Self.percentDecode(parts[0]).lowercased()
            let value = parts.count > 1 ? Self.percentDecode(parts[1]) : ""
            parameters.append((key, value))
        }
        self.parameters = parameters
    }

    /// The first value of `key`.
    public subscript(_ key: String) -> String? { self.parameters.first { $0.key == key }?.value }

    /// The string the signature covers.
    public func stringToSign(method: String, path: String) -> String {
        let signed = self.parameters.filter { $0.key != "auth_signature" }.sorted { $0.key < $1.key }
        return method.uppercased() + "\n" + path + "\n" + signed.map { $0.key + "=" + $0.value }.joined(separator: "&")
    }

    /// Checks the signature against `key` and any of `secrets`, the timestamp against `now` (seconds), and the body's MD5.
    ///
    /// `paths` lists the forms of the path to try (as sent, and percent-decoded when that differs).
    public func verify(
        method: String,
        paths: [String],
        body: ByteBuffer?,
        key: String,
        secrets: [String],
        now: Int64,
        window: Int64 = 600
    )
        throws(Failure)
    {
        try self.verifyQuery(method: method, paths: paths, key: key, secrets: secrets, now: now, window: window)
        try self.verifyBody(body)
    }

    /// Checks everything the query signs (the body's MD5 among it), before the body is read: only the secret's holder
    /// can make the server read a body.
    public func verifyQuery(
        method: String,
        paths: [String],
        key: String,
        secrets: [String],
        now: Int64,
        window: Int64 = 600
    )
        throws(Failure)
    {
        guard let authKey = self["auth_key"] else { throw Failure(message: "auth_key is required") }
        guard ConstantTime.equal(authKey, key) else { throw Failure(message: "unknown auth_key") }
        guard let timestampText = self["auth_timestamp"], let timestamp = Int64(timestampText) else {
            throw Failure(message: "auth_timestamp is required")
        }
        // Compared without subtracting: `now - timestamp` overflows (a trap) for a timestamp near Int64.min.
        guard timestamp >= now - window, timestamp <= now + window else {
            throw Failure(message: "auth_timestamp is more than \(window) seconds from the server's time (\(now))")
        }
        guard self["auth_version"] == "1.0" else { throw Failure(message: "auth_version must be 1.0") }
        guard let signature = self["auth_signature"]?.lowercased() else { throw Failure(message: "auth_signature is required") }
        for path in paths {
            let signed = self.stringToSign(method: method, path: path)
            for secret in secrets {
                let expected = PusherSignature.hmacHex(secret: secret, string: signed)
                if ConstantTime.equal(signature, expected) { return }
            }
        }
        throw Failure(message: "invalid auth_signature")
    }

    /// Checks the body against the signed `body_md5`, which a body requires.
    public func verifyBody(_ body: ByteBuffer?) throws(Failure) {
        if let md5 = self["body_md5"] {
            let actual = PusherSignature.md5Hex(body ?? ByteBuffer())
            guard md5.lowercased() == actual else { throw Failure(message: "body_md5 does not match the body") }
        } else if (body?.readableBytes ?? 0) > 0 {
            throw Failure(message: "body_md5 is required with a body")
        }
    }

    /// Signs a request as the official libraries do; returns the query string to send (tests, tools).
    public static func signedQuery(
        method: String,
        path: String,
        key: String,
        secret: String,
        timestamp: Int64,
        body: ByteBuffer?,
        parameters: [(String, String)] = []
    ) -> String {
        var all = parameters
        all.append(("auth_key", key))
        all.append(("auth_timestamp", String(timestamp)))
        all.append(("auth_version", "1.0"))
        if let body, body.readableBytes > 0 { all.append(("body_md5", PusherSignature.md5Hex(body))) }
        let unsigned = PusherRequestSignature(pairs: all)
        let signature = PusherSignature.hmacHex(secret: secret, string: unsigned.stringToSign(method: method, path: path))
        return (all + [("auth_signature", signature)]).map { $0.0 + "=" + $0.1 }.joined(separator: "&")
    }

    init(pairs: [(String, String)]) { self.parameters = pairs.map { (key: $0.0, value: $0.1) } }

    /// Decodes `%XX` escapes and `+` (a space, as form encoding writes it); a malformed escape is kept as written.
    static func percentDecode(_ text: Substring) -> String {
        guard text.contains("%") || text.contains("+") else { return String(text) }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2, let high = HexDigit.value(utf8[utf8.startIndex]),
                let low = HexDigit.value(utf8[utf8.startIndex + 1])
            {
                bytes.append(high << 4 | low)
                utf8 = utf8.dropFirst(2)
            } else if byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
