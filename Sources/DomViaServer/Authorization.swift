import Foundation

/// Signs a `private-…` channel for one connection; call it only after checking that the signed-in user may join.
///
/// ```swift
/// let authorization = try authorizePrivateChannel(key: key, secret: secret, socketID: socketID, channelName: channel)
/// return try JSONEncoder().encode(authorization)   // {"auth":"pk_…:…"}
/// ```
public func authorizePrivateChannel(
    key: String,
    secret: String,
    socketID: String,
    channelName: String
) throws(DomViaServerError) -> ChannelAuthorization {
    try checkSigningInput(key: key, secret: secret, socketID: socketID, channelName: channelName)
    guard !channelName.hasPrefix("presence-") else {
        throw DomViaServerError(status: 400, message: "\(channelName) is a presence channel: use authorizePresenceChannel with the user's id")
    }
    return ChannelAuthorization(auth: key + ":" + DomViaSignature.hmacHex(secret: secret, "\(socketID):\(channelName)"))
}

/// Signs a `presence-…` channel with the member's identity; other members see `userID` and `userInfo` (any JSON value).
public func authorizePresenceChannel(
    key: String,
    secret: String,
    socketID: String,
    channelName: String,
    userID: String,
    userInfo: (any Encodable & Sendable)? = nil
) throws(DomViaServerError) -> ChannelAuthorization {
    try checkSigningInput(key: key, secret: secret, socketID: socketID, channelName: channelName)
    guard channelName.hasPrefix("presence-") else { throw DomViaServerError(status: 400, message: "\(channelName) is not a presence channel") }
    guard !userID.isEmpty, userID.utf8.count <= 200 else { throw DomViaServerError(status: 400, message: "the user id must be 1 to 200 bytes") }
    var channelData = "{\"user_id\":" + jsonText(userID)
    if let userInfo {
        do {
            channelData += ",\"user_info\":" + String(decoding: try JSONEncoder.sorted.encode(userInfo), as: UTF8.self)
        } catch {
            throw DomViaServerError(status: 400, message: "user info is not encodable as JSON: \(error)")
        }
    }
    channelData += "}"
    let signature = DomViaSignature.hmacHex(secret: secret, "\(socketID):\(channelName):\(channelData)")
    return ChannelAuthorization(auth: key + ":" + signature, channelData: channelData)
}

func checkSigningInput(key: String, secret: String, socketID: String, channelName: String) throws(DomViaServerError) {
    guard !key.isEmpty else { throw DomViaServerError(status: 400, message: "the app key is required") }
    guard !secret.isEmpty else { throw DomViaServerError(status: 400, message: "the app secret is required") }
    guard DomViaSignature.isSocketID(socketID) else { throw DomViaServerError(status: 400, message: "invalid socket id") }
    guard DomViaSignature.isChannelName(channelName) else { throw DomViaServerError(status: 400, message: "invalid channel name") }
}

/// `text` as a JSON string literal.
func jsonText(_ text: String) -> String {
    (try? JSONEncoder.sorted.encode(text)).map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
}

extension JSONEncoder {
    /// Keys sorted and slashes left alone: stable output for signatures.
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
