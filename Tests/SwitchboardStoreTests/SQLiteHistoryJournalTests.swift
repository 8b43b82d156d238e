import Foundation
import GRDB
import NIOCore
import SwitchboardCore
import Testing

@testable import SwitchboardStore

@Suite struct SQLiteHistoryJournalTests {
    static func temporaryPath() -> String { NSTemporaryDirectory() + "history-\(UUID().uuidString)/store.sqlite" }

    static func kept(_ offset: UInt64, epoch: String = "e1", channel: String = "chat:1", at time: Int64 = 1_000) -> Publication {
        Publication(
            app: "1001",
            channel: channel,
            event: "said",
            data: ByteBuffer(string: #"{"n":\#(offset)}"#),
            userID: "u\(offset)",
            sender: ConnectionID(7),
            position: StreamPosition(offset: offset, epoch: epoch),
            timestamp: time
        )
    }

    static let policy = HistoryPolicy(size: 100, ttlMilliseconds: 3_600_000)

    /// A journal on a fresh file, as a restarted server sees it.
    static func reopened(_ path: String) throws -> SQLiteHistoryJournal { SQLiteHistoryJournal(store: try SQLiteStore(path: path)) }

    static func offsets(_ stream: RestoredStream) -> [UInt64] {
        stream.history.messages(after: 0).publications.compactMap { $0.position?.offset }
    }

    @Test func keptMessagesReloadWithTheirEpochOffsetsAndFields() throws {
        let path = Self.temporaryPath()
        let journal = try Self.reopened(path)
        for offset in 1...3 { journal.kept(Self.kept(UInt64(offset)), policy: Self.policy) }
        journal.flush()

        let restored = try Self.reopened(path).restore(now: 2_000)
        #expect(restored.count == 1)
        let stream = try #require(restored.first)
        #expect(stream.app == "1001" && stream.channel == "chat:1")
        #expect(stream.history.position == StreamPosition(offset: 3, epoch: "e1"))
        #expect(stream.policy == Self.policy && stream.lastPublish == 1_000)
        let first = try #require(stream.history.messages(after: 0).publications.first)
        #expect(first.event == "said" && first.userID == "u1" && first.timestamp == 1_000)
        #expect(String(buffer: first.data) == #"{"n":1}"#)
        #expect(first.position == StreamPosition(offset: 1, epoch: "e1"))
        #expect(Self.offsets(stream) == [1, 2, 3])
    }

    @Test func tagsAndThePublishersClientInfoReload() throws {
        let path = Self.temporaryPath()
        let journal = try Self.reopened(path)
        var tagged = Self.kept(1)
        tagged.tags = ["k": "v", "region": "eu"]
        tagged.clientID = "client-1"
        tagged.connInfo = ByteBuffer(string: #"{"name":"Ada"}"#)
        journal.kept(tagged, policy: Self.policy)
        journal.kept(Self.kept(2), policy: Self.policy)
        journal.flush()

        let stream = try #require(try Self.reopened(path).restore(now: 2_000).first)
        let messages = stream.history.messages(after: 0).publications
        #expect(messages.map(\.tags) == [["k": "v", "region": "eu"], [:]])
        #expect(messages.map(\.clientID) == ["client-1", nil])
        #expect(messages.map(\.connInfo) == [ByteBuffer(string: #"{"name":"Ada"}"#), nil])
    }

    /// A store written before `history_entry` had the columns is upgraded in place; its rows carry no tags or info.
    @Test func historySavedBeforeTheTagColumnsReloadsAfterTheMigration() throws {
        let path = Self.temporaryPath()
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let old = try DatabaseQueue(path: path)
        try SQLiteStore.migrator.migrate(old, upTo: "v6_usage_daily")
        try old.write { db in
            try db.execute(sql: "INSERT INTO history_stream VALUES ('1001', 'chat:1', 'e1', 1, 100, 3600000, 1000)")
            try db.execute(
                sql: """
                    INSERT INTO history_entry (app, channel, seq, time, event, user_id, data)
                    VALUES ('1001', 'chat:1', 1, 1000, 'said', 'u1', X'31')
                    """
            )
        }
        try old.close()

        let store = try SQLiteStore(path: path)
        #expect(try store.appliedMigrations().contains("v7_history_publication_info"))
        let stream = try #require(try SQLiteHistoryJournal(store: store).restore(now: 2_000).first)
        let first = try #require(stream.history.messages(after: 0).publications.first)
        #expect(first.event == "said" && first.userID == "u1" && String(buffer: first.data) == "1")
        #expect(first.tags.isEmpty && first.clientID == nil && first.connInfo == nil)
    }

    @Test func savedHistoryIsTrimmedToTheChannelsSize() throws {
        let path = Self.temporaryPath()
        let journal = try Self.reopened(path)
        let small = HistoryPolicy(size: 3, ttlMilliseconds: 3_600_000)
        for offset in 1...6 { journal.kept(Self.kept(UInt64(offset)), policy: small) }
        journal.flush()
        for offset in 7...10 {
            journal.kept(Self.kept(UInt64(offset)), policy: small)
            journal.flush()
        }
        let stream = try #require(try Self.reopened(path).restore(now: 2_000).first)
        #expect(Self.offsets(stream) == [8, 9, 10])
        #expect(stream.history.position.offset == 10)
        let rows = try SQLiteStore(path: path).database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM history_entry") }
        #expect(rows == 3)
    }

    @Test func pruneDropsExpiredMessagesButKeepsTheStreamsPosition() throws {
        let path = Self.temporaryPath()
        let journal = try Self.reopened(path)
        let short = HistoryPolicy(size: 100, ttlMilliseconds: 1_000)
        journal.kept(Self.kept(1, at: 1_000), policy: short)
        journal.kept(Self.kept(2, at: 2_000), policy: short)
        journal.flush()
        journal.prune(now: 2_500)
        let store = try SQLiteStore(path: path)
        let rows = try store.database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM history_entry") }
        #expect(rows == 1)

        let later = try #require(try Self.reopened(path).restore(now: 10_000).first)
        #expect(Self.offsets(later).isEmpty)
        // Nothing is left, yet a client that saw offset 2 of e1 still recovers (with nothing) instead of being reset.
        #expect(later.history.position == StreamPosition(offset: 2, epoch: "e1"))
        #expect(!later.history.messages(after: 2).truncated)
        #expect(later.history.messages(after: 1).truncated)
    }

    @Test func aDroppedStreamIsForgottenAndANewEpochReplacesTheOldOne() throws {
        let path = Self.temporaryPath()
        let journal = try Self.reopened(path)
        for offset in 1...3 { journal.kept(Self.kept(UInt64(offset)), policy: Self.policy) }
        journal.kept(Self.kept(1, channel: "chat:gone"), policy: Self.policy)
        journal.flush()
        journal.dropped(app: "1001", channel: "chat:1")
        journal.dropped(app: "1001", channel: "chat:gone")
        journal.kept(Self.kept(1, epoch: "e2"), policy: Self.policy)
        journal.kept(Self.kept(2, epoch: "e2"), policy: Self.policy)
        journal.flush()

        let restored = try Self.reopened(path).restore(now: 2_000)
        #expect(restored.map(\.channel) == ["chat:1"])
        let stream = try #require(restored.first)
        #expect(stream.history.position == StreamPosition(offset: 2, epoch: "e2"))
        #expect(Self.offsets(stream) == [1, 2])
        #expect(stream.history.messages(after: 0).publications.allSatisfy { $0.position?.epoch == "e2" })
    }

    @Test func messagesThatCouldNotBeBufferedCutTheSavedHistoryInsteadOfLeavingAHole() throws {
        let path = Self.temporaryPath()
        let journal = SQLiteHistoryJournal(store: try SQLiteStore(path: path), batchSize: 2, maxBuffered: 2)
        for offset in 1...3 { journal.kept(Self.kept(UInt64(offset)), policy: Self.policy) }  // 3 finds the buffer full
        journal.flush()
        journal.kept(Self.kept(4), policy: Self.policy)
        journal.flush()

        let stream = try #require(try Self.reopened(path).restore(now: 2_000).first)
        #expect(stream.history.position == StreamPosition(offset: 4, epoch: "e1"))
        #expect(Self.offsets(stream) == [4])
        // A client that saw offset 1 is told it missed something the server no longer has.
        #expect(stream.history.messages(after: 1).truncated)
        #expect(!stream.history.messages(after: 3).truncated)
    }

    @Test func messagesEvictedForTheMemoryBudgetLeaveTheStoreAndTheReloadShowsTheGap() throws {
        let path = Self.temporaryPath()
        let journal = try Self.reopened(path)
        for offset in 1...5 { journal.kept(Self.kept(UInt64(offset)), policy: Self.policy) }
        journal.evicted(app: "1001", channel: "chat:1", through: StreamPosition(offset: 3, epoch: "e1"))
        // An eviction naming an epoch the stream no longer has cuts nothing.
        journal.evicted(app: "1001", channel: "chat:1", through: StreamPosition(offset: 5, epoch: "old"))
        journal.flush()

        let stream = try #require(try Self.reopened(path).restore(now: 2_000).first)
        #expect(Self.offsets(stream) == [4, 5])
        #expect(stream.history.position == StreamPosition(offset: 5, epoch: "e1"))
        #expect(stream.history.messages(after: 1).truncated)
    }

    @Test func largeMessagesFillTheBufferByBytesAndThoseBeyondItCutTheSavedHistory() throws {
        let path = Self.temporaryPath()
        let journal = SQLiteHistoryJournal(store: try SQLiteStore(path: path), maxBufferedBytes: 250_000)
        for offset in 1...3 {
            var big = Self.kept(UInt64(offset))
            big.data = ByteBuffer(repeating: UInt8(ascii: "x"), count: 100_000)
            journal.kept(big, policy: Self.policy)  // the third finds 200 KB buffered
        }
        journal.flush()
        journal.kept(Self.kept(4), policy: Self.policy)
        journal.flush()

        let stream = try #require(try Self.reopened(path).restore(now: 2_000).first)
        #expect(Self.offsets(stream) == [4])
        #expect(stream.history.messages(after: 2).truncated)
    }

    @Test func aRestartedMemoryEngineContinuesTheSameStream() throws {
        let path = Self.temporaryPath()
        let journal = try Self.reopened(path)
        let engine = MemoryEngine(journal: journal)
        let now = WallClock.milliseconds()
        let publication = Publication(app: "1001", channel: "chat:1", data: ByteBuffer(string: "1"), timestamp: now)
        let first = engine.publish(publication, history: Self.policy)
        _ = engine.publish(publication, history: Self.policy)
        _ = engine.publish(Publication(app: "1001", channel: "plain", data: ByteBuffer(string: "x"), timestamp: now), history: nil)
        journal.flush()

        let again = try Self.reopened(path)
        let restarted = MemoryEngine(restored: try again.restore(now: now), journal: again)
        let third = restarted.publish(publication, history: Self.policy)
        #expect(third.position == StreamPosition(offset: 3, epoch: try #require(first.position?.epoch)))
        let missed = restarted.history(app: "1001", channel: "chat:1", after: 1, limit: nil, policy: Self.policy)
        #expect(missed.publications.compactMap { $0.position?.offset } == [2, 3])
        #expect(!missed.truncated)
        // A channel published without history leaves nothing in the store.
        let plain = restarted.history(app: "1001", channel: "plain", after: nil, limit: nil, policy: Self.policy)
        #expect(plain.latest == nil)
        again.flush()
        #expect(try Self.reopened(path).restore(now: now).map(\.channel) == ["chat:1"])
    }

    @Test func afterACrashTheNextOffsetSkipsPastWhatTheLastBatchMayHaveLost() throws {
        let path = Self.temporaryPath()
        let running = SQLiteHistoryJournal(store: try SQLiteStore(path: path), crashGap: 1_000)
        #expect(try running.restore(now: 2_000).isEmpty)
        for offset in 1...3 { running.kept(Self.kept(UInt64(offset)), policy: Self.policy) }
        running.flush()
        // The process dies here: offsets 4... may have reached clients without being written.

        let restarted = SQLiteHistoryJournal(store: try SQLiteStore(path: path), crashGap: 1_000)
        let stream = try #require(try restarted.restore(now: 2_000).first)
        #expect(stream.history.position == StreamPosition(offset: 1_003, epoch: "e1"))
        #expect(Self.offsets(stream) == [1, 2, 3])
        #expect(stream.history.messages(after: 2).publications.compactMap { $0.position?.offset } == [3])
    }

    @Test func aCleanCloseKeepsTheNextOffsetWhereItWas() throws {
        let path = Self.temporaryPath()
        let running = SQLiteHistoryJournal(store: try SQLiteStore(path: path), crashGap: 1_000)
        _ = try running.restore(now: 2_000)
        for offset in 1...3 { running.kept(Self.kept(UInt64(offset)), policy: Self.policy) }
        running.close()

        let restarted = SQLiteHistoryJournal(store: try SQLiteStore(path: path), crashGap: 1_000)
        let stream = try #require(try restarted.restore(now: 2_000).first)
        #expect(stream.history.position == StreamPosition(offset: 3, epoch: "e1"))
        #expect(Self.offsets(stream) == [1, 2, 3])
    }
}
