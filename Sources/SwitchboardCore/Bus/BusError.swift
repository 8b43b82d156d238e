/// Why the bus refused a command; each adapter maps it to its protocol's error.
public enum BusError: Error, Equatable, Sendable {
    /// The app already has as many channels as its plan allows.
    case channelLimit(Int)
    /// The app already has as many connections as its plan allows.
    case connectionLimit(Int)
    /// The payload is larger than the plan allows.
    case messageTooLarge(limit: Int)
    /// The app published more than its plan allows per minute.
    case rateLimited
    /// The app published as many messages this month as its plan allows (`monthly_messages`).
    case monthlyQuota(limit: Int)
    /// The channel name is not valid.
    case invalidChannel
    /// The event name is not valid (`EventName`).
    case invalidEventName
    /// The channel's rules do not allow presence.
    case presenceNotAllowed
    /// The presence channel already holds as many members as the app allows (`max_presence_members`).
    case presenceFull(Int)
    /// Presence metadata is larger than `[limits] max_presence_metadata_bytes`.
    case metadataTooLarge(limit: Int)
    /// A kit rule of the channel refused the message (`KitGuard`): too large, too fast, an invalid transition, plaintext.
    case kitRefused(KitRefusal)
}
