/// What a trusted server's `authEndpoint` answers a client with: `{"auth": …}`, plus `channel_data` for presence.
public struct ChannelAuthorization: Sendable, Codable, Equatable {
    /// `key:signature`: the app key and the hex HMAC-SHA256 of `socket_id:channel_name[:channel_data]` with the secret.
    public var auth: String
    /// The presence member as JSON (`{"user_id": …, "user_info": …}`); nil for private channels.
    public var channelData: String?

    enum CodingKeys: String, CodingKey {
        case auth
        case channelData = "channel_data"
    }

    /// Creates an authorization.
    public init(auth: String, channelData: String? = nil) {
        self.auth = auth
        self.channelData = channelData
    }
}
