public import AsyncHTTPClient
import Foundation
public import NIOCore
import NIOHTTP1

/// A Swift backend's client for DomVia Realtime on Switchboard: signs channel access and publishes events through
/// the HTTP API (`POST /apps/{appID}/events`, signed as the Pusher libraries sign).
///
/// ```swift
/// let realtime = DomViaRealtimeServer(appID: "1001", key: "pk_…", secret: secret, host: "127.0.0.1:8080")
/// try await realtime.trigger("private-delivery.884", event: "delivery.status", data: ["status": "in_transit"])
/// ```
public struct DomViaRealtimeServer: Sendable {
    /// The app's id (digits).
    public let appID: String
    /// The app's public key.
    public let key: String
    let secret: String
    /// Where the edge's HTTP API is: `http://127.0.0.1:8080` or `https://edge.example.com`.
    public let baseURL: String

    /// Creates a client; `host` is `host[:port]` (plain HTTP on loopback, HTTPS elsewhere unless `useTLS` says) or a URL.
    public init(appID: String, key: String, secret: String, host: String, useTLS: Bool? = nil) {
        self.appID = appID
        self.key = key
        self.secret = secret
        var text = host
        while text.hasSuffix("/") { text.removeLast() }
        if text.hasPrefix("http://") || text.hasPrefix("https://") {
            self.baseURL = text
        } else {
            let name = text.split(separator: ":").first.map(String.init) ?? text
            let loopback = name == "localhost" || name.hasPrefix("127.") || text.hasPrefix("[::1]")
            self.baseURL = ((useTLS ?? !loopback) ? "https://" : "http://") + text
        }
    }

    /// Signs a private channel for one connection (see the free function).
    public func authorizePrivateChannel(socketID: String, channelName: String) throws(DomViaServerError) -> ChannelAuthorization {
        try DomViaServer.authorizePrivateChannel(key: self.key, secret: self.secret, socketID: socketID, channelName: channelName)
    }

    /// Signs a presence channel for one connection with the member's identity (see the free function).
    public func authorizePresenceChannel(
        socketID: String,
        channelName: String,
        userID: String,
        userInfo: (any Encodable & Sendable)? = nil
    ) throws(DomViaServerError) -> ChannelAuthorization {
        try DomViaServer.authorizePresenceChannel(
            key: self.key,
            secret: self.secret,
            socketID: socketID,
            channelName: channelName,
            userID: userID,
            userInfo: userInfo
        )
    }

    /// A signed HTTP API call: where to send it and its body.
    struct SignedRequest {
        var url: String
        var body: ByteBuffer
    }

    /// The signed request that publishes `event` with `json` (JSON text) on `channels`, excluding `socketID`.
    func triggerRequest(
        channels: [String],
        event: String,
        json: String,
        socketID: String?,
        now: Date = Date()
    ) throws(DomViaServerError) -> SignedRequest {
        guard !channels.isEmpty, channels.count <= 100, channels.allSatisfy(DomViaSignature.isChannelName) else {
            throw DomViaServerError(status: 400, message: "1 to 100 valid channel names are required")
        }
        var body = "{\"name\":" + jsonText(event) + ",\"channels\":[" + channels.map(jsonText).joined(separator: ",") + "],\"data\":" + jsonText(json)
        if let socketID { body += ",\"socket_id\":" + jsonText(socketID) }
        body += "}"
        let path = "/apps/\(self.appID)/events"
        let timestamp = Int64(now.timeIntervalSince1970)
        let query = Self.signedQuery(method: "POST", path: path, body: body, key: self.key, secret: self.secret, timestamp: timestamp)
        return SignedRequest(url: self.baseURL + path + "?" + query, body: ByteBuffer(string: body))
    }

    /// The query of a signed HTTP API request: `auth_key`, `auth_timestamp`, `auth_version`, `body_md5`, `auth_signature`.
    static func signedQuery(method: String, path: String, body: String, key: String, secret: String, timestamp: Int64) -> String {
        let parameters = [
            ("auth_key", key), ("auth_timestamp", String(timestamp)), ("auth_version", "1.0"), ("body_md5", DomViaSignature.md5Hex(Data(body.utf8))),
        ]
        let signed = parameters.sorted { $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        let signature = DomViaSignature.hmacHex(secret: secret, "\(method)\n\(path)\n\(signed)")
        return (parameters + [("auth_signature", signature)]).map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// Publishes `data` (encoded as JSON) as `event` on `channel`; `socketID` names a connection that must not get it.
    /// Throws the edge's refusal (status, code, message) when a limit or a kit rule refuses the event.
    public func trigger(
        _ channel: String,
        event: String,
        data: some Encodable & Sendable,
        socketID: String? = nil,
        client: HTTPClient = .shared,
        timeout: TimeAmount = .seconds(10)
    ) async throws {
        let json: String
        do {
            json = String(decoding: try JSONEncoder.sorted.encode(data), as: UTF8.self)
        } catch {
            throw DomViaServerError(status: 400, message: "data is not encodable as JSON: \(error)")
        }
        try await self.trigger([channel], event: event, json: json, socketID: socketID, client: client, timeout: timeout)
    }

    /// Publishes JSON text `json` as `event` on up to 100 `channels`.
    public func trigger(
        _ channels: [String],
        event: String,
        json: String,
        socketID: String? = nil,
        client: HTTPClient = .shared,
        timeout: TimeAmount = .seconds(10)
    ) async throws {
        let signed = try self.triggerRequest(channels: channels, event: event, json: json, socketID: socketID)
        var request = HTTPClientRequest(url: signed.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(signed.body)
        let response = try await client.execute(request, timeout: timeout)
        let body = try await response.body.collect(upTo: 64 * 1024)
        guard (200..<300).contains(response.status.code) else { throw Self.refusal(status: Int(response.status.code), body: body) }
    }

    /// The edge's JSON error (`{"error": {"code", "message"}}`) as a `DomViaServerError`.
    static func refusal(status: Int, body: ByteBuffer) -> DomViaServerError {
        struct Reply: Decodable {
            struct Failure: Decodable {
                var code: String?
                var message: String?
            }
            var error: Failure?
        }
        let text = String(buffer: body)
        let reply = try? JSONDecoder().decode(Reply.self, from: Data(text.utf8))
        return DomViaServerError(status: status, code: reply?.error?.code, message: reply?.error?.message ?? text)
    }
}
