/// What an engine did with a publish that carried an `IdempotencyKey`.
public struct IdempotentPublish: Sendable {
    /// The publication as published; for a duplicate, the retry carrying the first publish's position (nil when
    /// that channel kept no history).
    public var publication: Publication
    /// True when the channel saw the key within its window: nothing was delivered or kept.
    public var isDuplicate: Bool

    /// Creates an outcome.
    public init(publication: Publication, isDuplicate: Bool) {
        self.publication = publication
        self.isDuplicate = isDuplicate
    }
}
