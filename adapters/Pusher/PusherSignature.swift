import Crypto
import Foundation
public import NIOCore
public import SwitchboardAdapterKit

/// The HMAC-SHA256 signatures of the Pusher protocol, made with an app secret and checked in constant time.
///
/// Channel authorization signs `socket_id:channel` (private) or `socket_id:channel:channel_data` (presence);
/// user authentication signs `socket_id::user::user_data`; webhooks sign their body. An `auth` string is
/// `key:hexsignature`.
///
/// ```swift
/// let auth = PusherSignature.channelAuth(key: "278d425bdf160c739803", secret: "7ad3773142a6692b25b8",
///                                        socketID: "1234.1234", channel: "private-foobar")
/// // "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"
/// ```
public enum PusherSignature {
    /// The lowercase hex HMAC-SHA256 of `bytes` with `secret` (a webhook body).
    public static func hmacHex(secret: String, bytes: ByteBuffer) -> String {
        self.hmacHex(secret: secret, message: Data(bytes.readableBytesView))
    }

    static func hmacHex(secret: String, message: some DataProtocol) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Data(secret.utf8)))
        return hex(mac)
    }

    /// The lowercase hex HMAC-SHA256 of a string.
    public static func hmacHex(secret: String, string: String) -> String {
        self.hmacHex(secret: secret, message: Data(string.utf8))
    }

    /// The lowercase hex MD5 of `bytes` (the HTTP API's `body_md5`).
    public static func md5Hex(_ bytes: ByteBuffer) -> String {
        hex(Insecure.MD5.hash(data: Data(bytes.readableBytesView)))
    }

    /// What a channel subscription signs.
    public static func channelString(socketID: String, channel: String, channelData: String?) -> String {
        var text = socketID + ":" + channel
        if let channelData { text += ":" + channelData }
        return text
    }

    /// What a user sign-in signs.
    public static func userString(socketID: String, userData: String) -> String { socketID + "::user::" + userData }

    /// The `auth` value a server library gives a client for a channel subscription.
    public static func channelAuth(key: String, secret: String, socketID: String, channel: String, channelData: String? = nil) -> String {
        key + ":" + self.hmacHex(secret: secret, string: self.channelString(socketID: socketID, channel: channel, channelData: channelData))
    }

    /// The `auth` value a server library gives a client for `pusher:signin`.
    public static func userAuth(key: String, secret: String, socketID: String, userData: String) -> String {
        key + ":" + self.hmacHex(secret: secret, string: self.userString(socketID: socketID, userData: userData))
    }

    /// True when `auth` is `key:signature` of `signed` by one of `secrets` (every secret verifies, for rotation).
    public static func verify(auth: String, key: String, secrets: [String], signed: String) -> Bool {
        self.signer(auth: auth, key: key, secrets: secrets, signed: signed) != nil
    }

    /// The fingerprint of the secret in `secrets` whose signature of `signed` `auth` carries (`key:signature`), or nil
    /// when none made it; a connection keeps it to end the subscription when that key is revoked.
    public static func signer(auth: String, key: String, secrets: [String], signed: String) -> KeyFingerprint? {
        guard let colon = auth.firstIndex(of: ":") else { return nil }
        let givenKey = auth[..<colon]
        let signature = auth[auth.index(after: colon)...].lowercased()
        // Compare the key too in constant time: it is public, but nothing should depend on where it differs.
        let keyMatches = ConstantTime.equal(givenKey, key)
        // Every secret is tried, so the time taken does not tell which one matched.
        var matched: String?
        for secret in secrets {
            let expected = self.hmacHex(secret: secret, string: signed)
            if ConstantTime.equal(signature, expected) { matched = matched ?? secret }
        }
        guard keyMatches, let matched else { return nil }
        return KeyFingerprint(secret: matched)
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
