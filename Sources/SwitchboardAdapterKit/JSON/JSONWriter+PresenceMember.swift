public import SwitchboardCore

extension JSONWriter {
    /// `{"userId": …, "metadata": …, "lastSeen": ms}`: a presence member as the REST and admin APIs list it.
    public mutating func presenceMember(_ member: PresenceMember) {
        self.beginObject()
        self.member("userId", member.userID)
        self.member("metadata", raw: member.metadata)
        self.member("lastSeen", member.lastSeen)
        self.endObject()
    }
}
