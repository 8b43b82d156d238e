import Foundation
import GRDB
import NIOCore
import SwitchboardCore

extension SQLiteStore {
    /// Writes `changes` in one transaction, then trims each touched stream to its size and forgets what `lost` names.
    ///
    /// `lost` maps a stream to the newest message the journal could not write: its saved messages up to there are
    /// deleted, so a reload starts after the gap and a client asking from before it is told the gap is there.
    func writeHistory(_ changes: [HistoryChange], lost: [HistoryStreamKey: LostHistory]) throws {
        guard !changes.isEmpty || !lost.isEmpty else { return }
        try self.database.write { db in
            let insert = try db.cachedStatement(
                sql: """
                    INSERT OR REPLACE INTO history_entry (app, channel, seq, time, event, user_id, data, tags, client_id, conn_info)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            )
            let savedEpoch = try db.cachedStatement(sql: "SELECT epoch FROM history_stream WHERE app = ? AND channel = ?")
            let dropEntries = try db.cachedStatement(sql: "DELETE FROM history_entry WHERE app = ? AND channel = ?")
            var epochs: [HistoryStreamKey: String] = [:]
            var touched: [HistoryStreamKey: (position: StreamPosition, policy: HistoryPolicy, time: Int64)] = [:]
            for change in changes {
                switch change {
                case .kept(let publication, let policy):
                    guard let position = publication.position else { continue }
                    let key = HistoryStreamKey(app: publication.app, channel: publication.channel)
                    if epochs[key] != position.epoch {
                        // Messages of another epoch belong to a stream that was dropped since: they go.
                        let saved = try epochs[key] ?? String.fetchOne(savedEpoch, arguments: [key.app, key.channel])
                        if let saved, saved != position.epoch { try dropEntries.execute(arguments: [key.app, key.channel]) }
                        epochs[key] = position.epoch
                    }
                    try insert.execute(arguments: [
                        key.app, key.channel, Int64(position.offset), publication.timestamp, publication.event, publication.userID,
                        Data(publication.data.readableBytesView), Self.tagsColumn(publication.tags), publication.clientID,
                        publication.connInfo.map { Data($0.readableBytesView) },
                    ])
                    touched[key] = (position, policy, publication.timestamp)
                case .evicted(let key, let position):
                    // Only the stream it names: a stream dropped and started again since keeps its new messages.
                    let current = try epochs[key] ?? String.fetchOne(savedEpoch, arguments: [key.app, key.channel])
                    guard current == position.epoch else { continue }
                    try db.execute(
                        sql: "DELETE FROM history_entry WHERE app = ? AND channel = ? AND seq <= ?",
                        arguments: [key.app, key.channel, Int64(position.offset)]
                    )
                case .dropped(let key):
                    try dropEntries.execute(arguments: [key.app, key.channel])
                    try db.execute(sql: "DELETE FROM history_stream WHERE app = ? AND channel = ?", arguments: [key.app, key.channel])
                    epochs[key] = nil
                    touched[key] = nil
                }
            }
            for (key, last) in touched {
                try db.execute(
                    sql: """
                        INSERT INTO history_stream (app, channel, epoch, last_seq, size, ttl_ms, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (app, channel) DO UPDATE SET epoch = excluded.epoch, last_seq = excluded.last_seq,
                        size = excluded.size, ttl_ms = excluded.ttl_ms, updated_at = excluded.updated_at
                        """,
                    arguments: [
                        key.app, key.channel, last.position.epoch, Int64(last.position.offset), last.policy.size, last.policy.ttlMilliseconds,
                        last.time,
                    ]
                )
                try db.execute(
                    sql: "DELETE FROM history_entry WHERE app = ? AND channel = ? AND seq <= ?",
                    arguments: [key.app, key.channel, Int64(last.position.offset) - Int64(max(0, last.policy.size))]
                )
            }
            for (key, missed) in lost {
                // The stream still counts the messages it could not save, so offsets are never given out twice.
                try db.execute(
                    sql: """
                        INSERT INTO history_stream (app, channel, epoch, last_seq, size, ttl_ms, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (app, channel) DO UPDATE SET last_seq = MAX(last_seq, excluded.last_seq) WHERE epoch = excluded.epoch
                        """,
                    arguments: [
                        key.app, key.channel, missed.position.epoch, Int64(missed.position.offset), missed.policy.size,
                        missed.policy.ttlMilliseconds, missed.time,
                    ]
                )
                try db.execute(
                    sql: """
                        DELETE FROM history_entry WHERE app = ?1 AND channel = ?2 AND seq <= ?3
                        AND (SELECT epoch FROM history_stream WHERE app = ?1 AND channel = ?2) IS ?4
                        """,
                    arguments: [key.app, key.channel, Int64(missed.position.offset), missed.position.epoch]
                )
            }
        }
    }

    /// Deletes saved messages older than their stream's ttl; returns how many.
    @discardableResult
    func pruneHistory(now: Int64) throws -> Int {
        try self.database.write { db in
            try db.execute(
                // The first bound (the shortest ttl) lets the time index pick the candidates; the second is each row's own.
                sql: """
                    DELETE FROM history_entry
                    WHERE time < ?1 - (SELECT COALESCE(MIN(ttl_ms), 0) FROM history_stream)
                    AND time < ?1 - COALESCE(
                        (SELECT ttl_ms FROM history_stream s WHERE s.app = history_entry.app AND s.channel = history_entry.channel), 0)
                    """,
                arguments: [now]
            )
            return db.changesCount
        }
    }

    /// Every saved stream with its messages still within bounds at `now`, oldest first; marks the history open.
    ///
    /// When the previous run did not close it (a crash), each stream's next offset skips `crashGap` ahead: offsets
    /// handed out after the last write were lost with the process, and giving them out again would show a client
    /// that saw them different messages under the same numbers.
    func loadHistory(now: Int64, crashGap: UInt64) throws -> (streams: [RestoredStream], crashed: Bool) {
        try self.pruneHistory(now: now)
        return try self.database.write { db in
            let open = try Int.fetchOne(db, sql: "SELECT value FROM history_state WHERE name = 'open'") ?? 0
            let crashed = open != 0
            if crashed {
                try db.execute(sql: "UPDATE history_stream SET last_seq = last_seq + ?", arguments: [Int64(clamping: crashGap)])
            }
            try db.execute(sql: "INSERT OR REPLACE INTO history_state (name, value) VALUES ('open', 1)")
            var entries: [HistoryStreamKey: [Row]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT * FROM history_entry ORDER BY app, channel, seq") {
                entries[HistoryStreamKey(app: row["app"], channel: row["channel"]), default: []].append(row)
            }
            let streams = try Row.fetchAll(db, sql: "SELECT * FROM history_stream ORDER BY app, channel").map { row in
                let key = HistoryStreamKey(app: row["app"], channel: row["channel"])
                let epoch: String = row["epoch"]
                let lastOffset = UInt64(max(0, row["last_seq"] as Int64))
                let policy = HistoryPolicy(size: row["size"], ttlMilliseconds: row["ttl_ms"])
                let messages = Self.contiguousTail(entries[key] ?? [], lastOffset: lastOffset, size: policy.size).map { entry in
                    let data: Data = entry["data"]
                    let connInfo: Data? = entry["conn_info"]
                    return Publication(
                        app: key.app,
                        channel: key.channel,
                        event: entry["event"],
                        data: ByteBuffer(bytes: data),
                        userID: entry["user_id"],
                        position: StreamPosition(offset: UInt64(entry["seq"] as Int64), epoch: epoch),
                        timestamp: entry["time"],
                        tags: Self.tags(fromColumn: entry["tags"]),
                        clientID: entry["client_id"],
                        connInfo: connInfo.map { ByteBuffer(bytes: $0) }
                    )
                }
                return RestoredStream(
                    app: key.app,
                    channel: key.channel,
                    history: ChannelHistory(epoch: epoch, lastOffset: lastOffset, messages: messages),
                    policy: policy,
                    lastPublish: row["updated_at"]
                )
            }
            return (streams, crashed)
        }
    }

    /// Records that everything buffered was written and the history closed: the next start needs no crash gap.
    func closeHistory() throws {
        try self.database.write { db in try db.execute(sql: "INSERT OR REPLACE INTO history_state (name, value) VALUES ('open', 0)") }
    }

    /// `tags` as the `history_entry.tags` column holds them: a JSON object of strings, NULL when there are none.
    static func tagsColumn(_ tags: [String: String]) -> String? {
        guard !tags.isEmpty else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(tags)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The tags a `history_entry.tags` value holds; none for NULL (rows saved before the column existed) or anything unreadable.
    static func tags(fromColumn text: String?) -> [String: String] {
        guard let text, let tags = try? JSONDecoder().decode([String: String].self, from: Data(text.utf8)) else { return [:] }
        return tags
    }

    /// The newest rows (none after `lastOffset`) that run without a hole, at most `size`: a reload never hides a gap.
    static func contiguousTail(_ rows: [Row], lastOffset: UInt64, size: Int) -> [Row] {
        var kept: [Row] = []
        var expected: Int64? = nil
        for row in rows.reversed() {
            let seq: Int64 = row["seq"]
            if seq > Int64(clamping: lastOffset) { continue }
            guard expected == nil || seq == expected, kept.count < size else { break }
            kept.append(row)
            expected = seq - 1
        }
        return kept.reversed()
    }
}
