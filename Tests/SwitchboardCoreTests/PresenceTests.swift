import NIOCore
import Testing

@testable import SwitchboardCore

@Suite struct PresenceTests {
    let store = MemoryPresenceStore()
    let meta = ByteBuffer(string: #"{"name":"Ada"}"#)

    @Test func aUserWithTwoConnectionsIsOneMemberAndLeavesWithTheLast() {
        let join1 = self.store.join(app: "1", channel: "p", userID: "u", metadata: self.meta, holder: .connection(ConnectionID(1)), now: 1)
        let join2 = self.store.join(app: "1", channel: "p", userID: "u", metadata: self.meta, holder: .connection(ConnectionID(2)), now: 2)
        #expect(join1?.kind == .join)
        #expect(join2?.kind == .connectionJoin)
        #expect(self.store.members(app: "1", channel: "p").map(\.userID) == ["u"])
        #expect(self.store.leave(app: "1", channel: "p", userID: "u", holder: .connection(ConnectionID(1)), now: 3)?.kind == .connectionLeave)
        #expect(self.store.leave(app: "1", channel: "p", userID: "u", holder: .connection(ConnectionID(2)), now: 4)?.kind == .leave)
        #expect(self.store.members(app: "1", channel: "p").isEmpty)
    }

    @Test func updateChangesMetadataWithoutLeaveOrJoin() {
        _ = self.store.join(app: "1", channel: "p", userID: "u", metadata: self.meta, holder: .server, now: 1)
        let change = self.store.update(app: "1", channel: "p", userID: "u", metadata: ByteBuffer(string: "2"), now: 2)
        #expect(change?.kind == .update)
        #expect(self.store.members(app: "1", channel: "p").first?.metadata == ByteBuffer(string: "2"))
        #expect(self.store.update(app: "1", channel: "p", userID: "nobody", metadata: self.meta, now: 3) == nil)
    }

    @Test func serverSideJoinsExpireWithoutHeartbeat() {
        _ = self.store.join(app: "1", channel: "p", userID: "silent", metadata: self.meta, holder: .server, now: 0)
        _ = self.store.join(app: "1", channel: "p", userID: "alive", metadata: self.meta, holder: .server, now: 0)
        _ = self.store.join(app: "1", channel: "p", userID: "alive", metadata: self.meta, holder: .server, now: 25_000)
        _ = self.store.join(app: "1", channel: "p", userID: "socket", metadata: self.meta, holder: .connection(ConnectionID(9)), now: 0)
        let leaves = self.store.expire(now: 31_000, maxAge: 30_000)
        #expect(leaves.map(\.member.userID) == ["silent"])
        #expect(self.store.members(app: "1", channel: "p").map(\.userID) == ["alive", "socket"])
    }

    @Test func aServerJoinOfAConnectedUserExpiresWithoutRemovingTheConnection() {
        _ = self.store.join(app: "1", channel: "p", userID: "u", metadata: self.meta, holder: .connection(ConnectionID(1)), now: 0)
        _ = self.store.join(app: "1", channel: "p", userID: "u", metadata: self.meta, holder: .server, now: 0)
        #expect(self.store.expire(now: 60_000, maxAge: 30_000).isEmpty)
        #expect(self.store.members(app: "1", channel: "p").count == 1)
    }
}
