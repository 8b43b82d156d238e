import NIOCore
import SwitchboardCore
import Synchronization
import Testing

@testable import SwitchboardRedis

/// Records what an engine hands the node.
final class Recorder: BrokerEventHandler {
    private let received = Mutex<[BusMessage]>([])
    /// What this node reports as its load, by app.
    let load = Mutex<[String: NodeLoad]>([:])
    /// What the engine last said the other nodes hold.
    let elsewhere = Mutex<[String: NodeLoad]>([:])

    func handle(_ message: BusMessage) { self.received.withLock { $0.append(message) } }

    /// Commands other nodes sent.
    let commands = Mutex<[NodeCommand]>([])

    func handle(_ command: NodeCommand) { self.commands.withLock { $0.append(command) } }

    /// A recorder attached to `engine`, which is subscribed to `channel` of `app`: what most engine tests start from.
    static func listening(to channel: String, app: String = "app", on engine: any Engine) async throws -> Recorder {
        let recorder = Recorder()
        engine.attach(recorder)
        try await engine.subscribe(app: app, channel: channel)
        return recorder
    }

    func localLoad() -> [String: NodeLoad] { self.load.withLock { $0 } }

    func otherNodesReported(_ loads: [String: NodeLoad]) { self.elsewhere.withLock { $0 = loads } }

    /// Apps whose other nodes' load this node does not ask for (as the bus does for apps without plan limits).
    let unwanted = Mutex<Set<String>>([])

    func wantsOtherNodesLoad(app: String) -> Bool { !self.unwanted.withLock { $0.contains(app) } }

    var messages: [BusMessage] { self.received.withLock { $0 } }

    var publications: [Publication] {
        self.messages.compactMap {
            if case .publication(let p) = $0 { return p }
            return nil
        }
    }

    /// Waits (bounded) until at least `count` messages arrived; returns them.
    @discardableResult
    func wait(for count: Int, timeout: Duration = .seconds(5)) async throws -> [BusMessage] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let messages = self.messages
            if messages.count >= count { return messages }
            try await Task.sleep(for: .milliseconds(5))
        }
        Issue.record("expected \(count) messages, got \(self.messages.count)")
        throw CancellationError()
    }
}

/// Makes a running engine for the length of one test.
struct EngineFactory: Sendable, CustomTestStringConvertible {
    let name: String
    let run: @Sendable (_ body: @Sendable (any Engine) async throws -> Void) async throws -> Void

    var testDescription: String { self.name }

    static let memory = EngineFactory(name: "memory") { body in try await body(MemoryEngine()) }

    static let redis = EngineFactory(name: "redis") { body in
        try await withRedisServer { server in
            try await withRedisEngine(url: server.url) { engine in try await body(engine) }
        }
    }

    static let all: [EngineFactory] = RedisServer.isInstalled ? [.memory, .redis] : [.memory]
}

/// `count` nodes on one fresh redis-server, each handing what it receives to its own recorder, around `body`.
func withRedisNodes(_ count: Int, _ body: ([(engine: RedisEngine, heard: Recorder)]) async throws -> Void) async throws {
    func nest(_ started: [(engine: RedisEngine, heard: Recorder)], url: RedisURL) async throws {
        guard started.count < count else { return try await body(started) }
        try await withRedisEngine(url: url) { engine in
            let heard = Recorder()
            engine.attach(heard)
            try await nest(started + [(engine, heard)], url: url)
        }
    }
    try await withRedisServer { server in try await nest([], url: server.url) }
}

/// Runs a Redis engine (its connections and refresher) around `body`.
///
/// `configure` adjusts the settings further; `makeEpoch` names new streams (random by default).
func withRedisEngine(
    url: RedisURL,
    prefix: String = "test",
    presenceTimeout: Duration = .seconds(30),
    configure: (inout RedisEngine.Configuration) -> Void = { _ in },
    makeEpoch: @escaping @Sendable () -> String = { Epoch.random() },
    _ body: (RedisEngine) async throws -> Void
)
    async throws
{
    var configuration = RedisEngine.Configuration(url: url, prefix: prefix, presenceTimeout: presenceTimeout)
    configuration.connection.maximumBackoff = .milliseconds(200)
    configure(&configuration)
    let engine = RedisEngine(configuration: configuration, makeEpoch: makeEpoch)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await engine.run() }
        defer { group.cancelAll() }
        let available = await engine.waitUntilAvailable(timeout: .seconds(5))
        try #require(available, "the engine did not connect")
        try await body(engine)
    }
}

let keepTen = HistoryPolicy(size: 10, ttlMilliseconds: 60_000)

func message(_ channel: String, _ data: String, app: String = "app", at time: Int64 = WallClock.milliseconds()) -> Publication {
    Publication(app: app, channel: channel, event: "e", data: ByteBuffer(string: data), timestamp: time)
}

/// The behaviour every engine must have, written once; each test runs against every engine.
@Suite("Engine conformance")
struct EngineConformanceTests {
    @Test(arguments: EngineFactory.all)
    func publishReachesTheAttachedHandlerInOrderWithOffsetsIncreasingByOne(factory: EngineFactory) async throws {
        try await factory.run { engine in
            let recorder = try await Recorder.listening(to: "room", on: engine)
            var returned: [Publication] = []
            for index in 1...20 { returned.append(try await engine.publish(message("room", "\(index)"), history: keepTen)) }
            #expect(returned.map { $0.position?.offset } == (1...20).map { UInt64($0) })
            #expect(Set(returned.compactMap { $0.position?.epoch }).count == 1)
            try await recorder.wait(for: 20)
            let received = recorder.publications
            #expect(received.map { String(buffer: $0.data) } == (1...20).map { "\($0)" })
            #expect(received.map { $0.position } == returned.map { $0.position })
            #expect(received.allSatisfy { $0.event == "e" && $0.channel == "room" && $0.app == "app" })
        }
    }

    @Test(arguments: EngineFactory.all)
    func aPositionedReadWithLimitZeroGivesWhereTheStreamStandsAndNoMessages(factory: EngineFactory) async throws {
        try await factory.run { engine in
            for index in 1...8 { _ = try await engine.publish(message("long", "\(index)"), history: keepTen) }
            let position = try await engine.historyStartingStream(app: "app", channel: "long", after: 0, limit: 0, policy: keepTen)
            #expect(position.publications.isEmpty && position.latest?.offset == 8 && !position.truncated)
            let some = try await engine.historyStartingStream(app: "app", channel: "long", after: 3, limit: 2, policy: keepTen)
            #expect(some.publications.map { String(buffer: $0.data) } == ["4", "5"])
            #expect(some.latest == position.latest)
            let fresh = try await engine.historyStartingStream(app: "app", channel: "new", after: 0, limit: 0, policy: keepTen)
            #expect(fresh.publications.isEmpty && fresh.latest?.offset == 0 && fresh.latest?.epoch.isEmpty == false)
        }
    }

    @Test(arguments: EngineFactory.all)
    func publishWithoutHistoryHasNoPositionAndKeepsNothing(factory: EngineFactory) async throws {
        try await factory.run { engine in
            let recorder = try await Recorder.listening(to: "plain", on: engine)
            let published = try await engine.publish(message("plain", "{}"), history: nil)
            #expect(published.position == nil)
            try await recorder.wait(for: 1)
            #expect(recorder.publications.first?.position == nil)
            let page = try await engine.history(app: "app", channel: "plain", after: nil, limit: nil, policy: keepTen)
            #expect(page.publications.isEmpty && page.latest == nil)
        }
    }

    @Test(arguments: EngineFactory.all)
    func senderOnThisNodeIsKeptSoItIsNotEchoed(factory: EngineFactory) async throws {
        try await factory.run { engine in
            let recorder = try await Recorder.listening(to: "echo", on: engine)
            var publication = message("echo", "1")
            publication.sender = ConnectionID(99)
            publication.userID = "ada"
            _ = try await engine.publish(publication, history: keepTen)
            try await recorder.wait(for: 1)
            #expect(recorder.publications.first?.sender == ConnectionID(99))
            #expect(recorder.publications.first?.userID == "ada")
        }
    }

    @Test(arguments: EngineFactory.all)
    func tagsAndThePublishersClientInfoReachSubscribersAndHistory(factory: EngineFactory) async throws {
        try await factory.run { engine in
            let recorder = try await Recorder.listening(to: "tagged", on: engine)
            var publication = message("tagged", "1")
            publication.tags = ["k": "v"]
            publication.clientID = "client-1"
            publication.connInfo = ByteBuffer(string: #"{"name":"Ada"}"#)
            _ = try await engine.publish(publication, history: keepTen)
            _ = try await engine.publish(message("tagged", "2"), history: keepTen)
            try await recorder.wait(for: 2)
            let page = try await engine.history(app: "app", channel: "tagged", after: nil, limit: nil, policy: keepTen)
            for seen in [recorder.publications, page.publications] {
                #expect(seen.map(\.tags) == [["k": "v"], [:]])
                #expect(seen.map(\.clientID) == ["client-1", nil])
                #expect(seen.map(\.connInfo) == [ByteBuffer(string: #"{"name":"Ada"}"#), nil])
            }
        }
    }

    @Test(arguments: EngineFactory.all)
    func historyKeepsTheNewestSizeMessages(factory: EngineFactory) async throws {
        try await factory.run { engine in
            let policy = HistoryPolicy(size: 3, ttlMilliseconds: 60_000)
            for index in 1...5 { _ = try await engine.publish(message("h", "\(index)"), history: policy) }
            let all = try await engine.history(app: "app", channel: "h", after: nil, limit: nil, policy: policy)
            #expect(all.publications.map { $0.position?.offset } == [3, 4, 5])
            #expect(all.publications.map { String(buffer: $0.data) } == ["3", "4", "5"])
            #expect(all.latest?.offset == 5)
            #expect(all.truncated == false)
            let newest = try await engine.history(app: "app", channel: "h", after: nil, limit: 2, policy: policy)
            #expect(newest.publications.map { $0.position?.offset } == [4, 5])
        }
    }

    @Test(arguments: EngineFactory.all)
    func replayAfterAnOffsetReturnsWhatFollowsAndFlagsAGap(factory: EngineFactory) async throws {
        try await factory.run { engine in
            let policy = HistoryPolicy(size: 4, ttlMilliseconds: 60_000)
            for index in 1...6 { _ = try await engine.publish(message("r", "\(index)"), history: policy) }
            let after3 = try await engine.history(app: "app", channel: "r", after: 3, limit: nil, policy: policy)
            #expect(after3.publications.map { $0.position?.offset } == [4, 5, 6])
            #expect(after3.truncated == false)
            let limited = try await engine.history(app: "app", channel: "r", after: 2, limit: 2, policy: policy)
            #expect(limited.publications.map { $0.position?.offset } == [3, 4])
            #expect(limited.truncated == false)
            let gap = try await engine.history(app: "app", channel: "r", after: 1, limit: nil, policy: policy)
            #expect(gap.truncated == true)
            #expect(gap.publications.map { $0.position?.offset } == [3, 4, 5, 6])
            let upToDate = try await engine.history(app: "app", channel: "r", after: 6, limit: nil, policy: policy)
            #expect(upToDate.publications.isEmpty && upToDate.truncated == false && upToDate.latest?.offset == 6)
            #expect(Set([after3, gap, upToDate].compactMap { $0.latest?.epoch }).count == 1)
        }
    }

    @Test(arguments: EngineFactory.all)
    func historyDropsMessagesOlderThanTheTTL(factory: EngineFactory) async throws {
        try await factory.run { engine in
            let policy = HistoryPolicy(size: 10, ttlMilliseconds: 5_000)
            let now = WallClock.milliseconds()
            _ = try await engine.publish(message("t", "old", at: now - 20_000), history: policy)
            _ = try await engine.publish(message("t", "new", at: now), history: policy)
            let page = try await engine.history(app: "app", channel: "t", after: nil, limit: nil, policy: policy)
            #expect(page.publications.map { String(buffer: $0.data) } == ["new"])
            #expect(page.latest?.offset == 2)
            let replay = try await engine.history(app: "app", channel: "t", after: 0, limit: nil, policy: policy)
            #expect(replay.truncated == true)
        }
    }

    @Test(arguments: EngineFactory.all)
    func removingHistoryDropsTheMessagesButKeepsTheEpochAndTopOffset(factory: EngineFactory) async throws {
        try await factory.run { engine in
            let first = try await engine.publish(message("x", "1"), history: keepTen)
            _ = try await engine.publish(message("x", "2"), history: keepTen)
            try await engine.removeHistory(app: "app", channel: "x")
            let gone = try await engine.history(app: "app", channel: "x", after: nil, limit: nil, policy: keepTen)
            #expect(gone.publications.isEmpty)
            #expect(gone.latest == StreamPosition(offset: 2, epoch: first.position?.epoch ?? "-"))
            // A client at the top position still recovers (nothing missed); one behind it is told it missed messages.
            let atTop = try await engine.history(app: "app", channel: "x", after: 2, limit: nil, policy: keepTen)
            #expect(atTop.publications.isEmpty && !atTop.truncated)
            let behind = try await engine.history(app: "app", channel: "x", after: 1, limit: nil, policy: keepTen)
            #expect(behind.truncated)
            let again = try await engine.publish(message("x", "3"), history: keepTen)
            #expect(again.position == StreamPosition(offset: 3, epoch: first.position?.epoch ?? "-"))
            let kept = try await engine.history(app: "app", channel: "x", after: nil, limit: nil, policy: keepTen)
            #expect(kept.publications.map { String(buffer: $0.data) } == ["3"])
        }
    }

    @Test(arguments: EngineFactory.all)
    func aReplayReadsOnlyTheNewestThatFitItsCountAndBytes(factory: EngineFactory) async throws {
        try await factory.run { engine in
            let keep = HistoryPolicy(size: 100, ttlMilliseconds: 60_000)
            let body = String(repeating: "x", count: 100)
            for _ in 1...20 { _ = try await engine.publish(message("replayed", body), history: keep) }
            func offsets(after: UInt64, count: Int, bytes: Int) async throws -> [UInt64] {
                let page = try await engine.replay(app: "app", channel: "replayed", after: after, count: count, bytes: bytes, policy: keep)
                #expect(page.latest?.offset == 20)
                return page.publications.compactMap { $0.position?.offset }
            }
            #expect(try await offsets(after: 5, count: 10, bytes: 1 << 20) == Array(11...20))
            #expect(try await offsets(after: 18, count: 10, bytes: 1 << 20) == [19, 20])
            #expect(try await offsets(after: 25, count: 10, bytes: 1 << 20).isEmpty)
            // A byte budget of about three messages: the newest that fit, in order, none older than asked for.
            let cut = try await offsets(after: 5, count: 100, bytes: 350)
            #expect((1...3).contains(cut.count) && cut.last == 20 && cut == Array((21 - UInt64(cut.count))...20))
        }
    }

    @Test(arguments: EngineFactory.all)
    func channelsAndAppsHaveSeparateStreams(factory: EngineFactory) async throws {
        try await factory.run { engine in
            _ = try await engine.publish(message("a", "1", app: "one"), history: keepTen)
            _ = try await engine.publish(message("a", "1", app: "one"), history: keepTen)
            let other = try await engine.publish(message("a", "1", app: "two"), history: keepTen)
            let sibling = try await engine.publish(message("b", "1", app: "one"), history: keepTen)
            #expect(other.position?.offset == 1 && sibling.position?.offset == 1)
        }
    }

    @Test(arguments: EngineFactory.all)
    func aHeadcountCountsEachUserOnceAndSaysWhetherOneIsAMember(factory: EngineFactory) async throws {
        try await factory.run { engine in
            let store = engine.presence
            let meta = ByteBuffer(string: "{}")
            let now = WallClock.milliseconds()
            #expect(try await store.headcount(app: "app", channel: "presence-h", userID: "ada") == (0, false))
            for (user, holder) in [("ada", 1), ("ada", 2), ("bob", 3)] {
                _ = try await store.join(
                    app: "app",
                    channel: "presence-h",
                    userID: user,
                    metadata: meta,
                    holder: .connection(ConnectionID(UInt64(holder))),
                    now: now
                )
            }
            #expect(try await store.headcount(app: "app", channel: "presence-h", userID: "ada") == (2, true))
            #expect(try await store.headcount(app: "app", channel: "presence-h", userID: "cyd") == (2, false))
            _ = try await store.leave(app: "app", channel: "presence-h", userID: "bob", holder: .connection(ConnectionID(3)), now: now)
            #expect(try await store.headcount(app: "app", channel: "presence-h", userID: "bob") == (1, false))
        }
    }

    @Test(arguments: EngineFactory.all)
    func aConnectionJoiningAMemberOthersHoldKeepsItsMetadataWhileTheServerMayChangeIt(factory: EngineFactory) async throws {
        try await factory.run { engine in
            let store = engine.presence
            let now = WallClock.milliseconds()
            func join(_ holder: PresenceHolder, _ metadata: String) async throws -> PresenceChange? {
                try await store.join("p-keep", as: "ada", by: holder, with: metadata, now: now)
            }
            func metadata() async throws -> String? {
                try await store.members(app: "app", channel: "p-keep").first.map { String(buffer: $0.metadata) }
            }
            #expect(try await join(.connection(ConnectionID(1)), #""real""#)?.kind == .join)
            // Anyone else claiming the user, or the first holder once another holds it too, changes nothing: the second
            // connection is announced as a client of the member, with what it joined with, not as a new metadata.
            let second = try await join(.connection(ConnectionID(2)), #""forged""#)
            #expect(second?.kind == .connectionJoin && second?.member.metadata == ByteBuffer(string: #""real""#))
            #expect(second?.holderMetadata == ByteBuffer(string: #""forged""#))
            #expect(try await join(.connection(ConnectionID(1)), #""again""#) == nil)
            #expect(try await metadata() == #""real""#)
            #expect(try await join(.server, #""server""#)?.kind == .update)
            #expect(try await metadata() == #""server""#)
            _ = try await store.leave(app: "app", channel: "p-keep", userID: "ada", holder: .connection(ConnectionID(2)), now: now)
            _ = try await store.leave(app: "app", channel: "p-keep", userID: "ada", holder: .server, now: now)
            // The one holder left may change what only it holds.
            #expect(try await join(.connection(ConnectionID(1)), #""mine""#)?.kind == .update)
        }
    }

    /// The JWT protocol lists clients, not users (as Centrifugo does), so a member list carries what each holder joined
    /// with, and a leave names the holder that left, not the member's first.
    @Test(arguments: EngineFactory.all)
    func aMemberListShowsWhatEachHolderJoinedWithAndALeaveNamesTheHolderThatLeft(factory: EngineFactory) async throws {
        try await factory.run { engine in
            let store = engine.presence
            let now = WallClock.milliseconds()
            func join(_ holder: PresenceHolder, _ metadata: String) async throws -> PresenceChange? {
                try await store.join("p-tabs", as: "ada", by: holder, with: metadata, now: now)
            }
            func leave(_ holder: PresenceHolder) async throws -> PresenceChange? {
                try await store.leave(app: "app", channel: "p-tabs", userID: "ada", holder: holder, now: now)
            }
            func holders() async throws -> [String] {
                try await store.members(app: "app", channel: "p-tabs").flatMap { $0.holders.map { String(buffer: $0) } }.sorted()
            }
            _ = try await join(.connection(ConnectionID(1)), #"{"client":"c1"}"#)
            _ = try await join(.connection(ConnectionID(2)), #"{"client":"c2"}"#)
            _ = try await join(.server, #"{"by":"server"}"#)
            #expect(try await holders() == [#"{"by":"server"}"#, #"{"client":"c1"}"#, #"{"client":"c2"}"#])
            let first = try await leave(.connection(ConnectionID(1)))
            #expect(first?.kind == .connectionLeave && first?.holderMetadata == ByteBuffer(string: #"{"client":"c1"}"#))
            #expect(try await holders() == [#"{"by":"server"}"#, #"{"client":"c2"}"#])
            // The server's holder leaving is not a connection's: nothing to announce while a connection holds the member.
            #expect(try await leave(.server) == nil)
            let last = try await leave(.connection(ConnectionID(2)))
            #expect(last?.kind == .leave && last?.holderMetadata == ByteBuffer(string: #"{"client":"c2"}"#))
            #expect(try await store.members(app: "app", channel: "p-tabs").isEmpty)
        }
    }

    @Test(arguments: EngineFactory.all)
    func joinsThatRaceCannotPassTheMemberCapTogether(factory: EngineFactory) async throws {
        try await factory.run { engine in
            let store = engine.presence
            let now = WallClock.milliseconds()
            // Fifty new users at once against a cap of ten: the check and the join are one step, on every engine.
            let refused = await withTaskGroup(of: Bool.self) { group in
                for n in 0..<50 {
                    group.addTask {
                        do {
                            _ = try await store.join(
                                app: "app",
                                channel: "p-race",
                                userID: "u\(n)",
                                metadata: ByteBuffer(string: "{}"),
                                holder: .connection(ConnectionID(UInt64(n))),
                                maxMembers: 10,
                                now: now
                            )
                            return false
                        } catch {
                            return error as? BusError == .presenceFull(10)
                        }
                    }
                }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(refused == 40)
            let members = try await store.members(app: "app", channel: "p-race")
            #expect(members.count == 10)
            // A member already in is not a new one: it joins again at the cap.
            let again = try await store.join(
                app: "app",
                channel: "p-race",
                userID: try #require(members.first?.userID),
                metadata: ByteBuffer(string: "{}"),
                holder: .connection(ConnectionID(99)),
                maxMembers: 10,
                now: now
            )
            #expect(again?.kind == .connectionJoin)
        }
    }

    @Test(arguments: EngineFactory.all)
    func presenceJoinUpdateLeaveAndExpire(factory: EngineFactory) async throws {
        try await factory.run { engine in
            let store = engine.presence
            let now = WallClock.milliseconds()
            let meta1 = ByteBuffer(string: "{\"name\":\"Ada\"}")
            let meta2 = ByteBuffer(string: "{\"name\":\"Ada L\"}")
            let join = try await store.join(
                app: "app",
                channel: "presence-p",
                userID: "ada",
                metadata: meta1,
                holder: .connection(ConnectionID(1)),
                now: now
            )
            #expect(join?.kind == .join && join?.member.userID == "ada" && join?.member.metadata == meta1)
            let second = try await store.join(
                app: "app",
                channel: "presence-p",
                userID: "ada",
                metadata: meta1,
                holder: .connection(ConnectionID(2)),
                now: now
            )
            #expect(second?.kind == .connectionJoin && second?.holderMetadata == meta1)
            let server = try await store.join(
                app: "app",
                channel: "presence-p",
                userID: "bob",
                metadata: ByteBuffer(string: "null"),
                holder: .server,
                now: now
            )
            #expect(server?.kind == .join)
            let update = try await store.update(app: "app", channel: "presence-p", userID: "ada", metadata: meta2, now: now)
            #expect(update?.kind == .update && update?.member.metadata == meta2)
            let unknown = try await store.update(app: "app", channel: "presence-p", userID: "nobody", metadata: meta2, now: now)
            #expect(unknown == nil)
            let members = try await store.members(app: "app", channel: "presence-p")
            #expect(members.map(\.userID) == ["ada", "bob"])
            #expect(members.first?.metadata == meta2)
            let firstLeave = try await store.leave(app: "app", channel: "presence-p", userID: "ada", holder: .connection(ConnectionID(1)), now: now)
            #expect(firstLeave?.kind == .connectionLeave && firstLeave?.member.userID == "ada")
            let lastLeave = try await store.leave(app: "app", channel: "presence-p", userID: "ada", holder: .connection(ConnectionID(2)), now: now)
            #expect(lastLeave?.kind == .leave && lastLeave?.member.userID == "ada")
            let notYet = try await store.expire(now: now + 1_000, maxAge: 5_000)
            #expect(notYet.isEmpty)
            let expired = try await store.expire(now: now + 10_000, maxAge: 5_000)
            #expect(expired.map(\.member.userID) == ["bob"] && expired.first?.kind == .leave && expired.first?.channel == "presence-p")
            #expect(try await store.members(app: "app", channel: "presence-p").isEmpty)
        }
    }

    @Test(arguments: EngineFactory.all)
    func anUpdateIsHeardFromAServerSideMemberAsAJoinWouldBe(factory: EngineFactory) async throws {
        try await factory.run { engine in
            let store = engine.presence
            let now = WallClock.milliseconds()
            _ = try await store.join(app: "app", channel: "presence-u", userID: "srv", metadata: ByteBuffer(string: "1"), holder: .server, now: now)
            _ = try await store.update(app: "app", channel: "presence-u", userID: "srv", metadata: ByteBuffer(string: "2"), now: now + 4_000)
            #expect(try await store.expire(now: now + 6_000, maxAge: 5_000).isEmpty)
            #expect(try await store.members(app: "app", channel: "presence-u").map(\.lastSeen) == [now + 4_000])
            #expect(try await store.expire(now: now + 10_000, maxAge: 5_000).map(\.member.userID) == ["srv"])
        }
    }

    @Test(arguments: EngineFactory.all)
    func aMemberAnOpenConnectionHoldsIsListedAsSeenWhenItsHolderLastVouchedForIt(factory: EngineFactory) async throws {
        try await factory.run { engine in
            let store = engine.presence
            let now = WallClock.milliseconds()
            let joined = now - 60_000
            _ = try await store.join(
                app: "app",
                channel: "presence-s",
                userID: "ada",
                metadata: ByteBuffer(string: "null"),
                holder: .connection(ConnectionID(1)),
                now: joined
            )
            // A Redis node vouches for its open connections' members each time it re-scores their holders.
            try await (engine as? RedisEngine)?.redisPresence.refresh(now: now)
            let seen = try await store.members(app: "app", channel: "presence-s").map(\.lastSeen)
            #expect(seen.count == 1 && seen[0] >= now, "joined at \(joined), now \(now), listed as seen at \(seen)")
        }
    }

    @Test(arguments: EngineFactory.all)
    func presenceChangesReachTheHandler(factory: EngineFactory) async throws {
        try await factory.run { engine in
            let recorder = try await Recorder.listening(to: "presence-q", on: engine)
            let member = PresenceMember(userID: "ada", metadata: ByteBuffer(string: "{}"), lastSeen: 1)
            try await engine.publish(PresenceChange(app: "app", channel: "presence-q", kind: .join, member: member, timestamp: 2))
            try await recorder.wait(for: 1)
            guard case .presence(let change) = recorder.messages.first else {
                Issue.record("expected a presence change")
                return
            }
            #expect(change.kind == .join && change.member == member && change.channel == "presence-q")
        }
    }
}

extension PresenceStore {
    /// A join of `channel` in the suite's app, with metadata given as JSON text.
    func join(_ channel: String, as userID: String, by holder: PresenceHolder, with metadata: String, now: Int64) async throws -> PresenceChange? {
        try await self.join(app: "app", channel: channel, userID: userID, metadata: ByteBuffer(string: metadata), holder: holder, now: now)
    }
}
