/// The Lua scripts the engine runs; each one is atomic in Redis.
enum RedisScripts {
    /// Publishes with history.
    ///
    /// KEYS: meta, stream, the app's message-less streams, then the ledger's four (RedisScripts+ledger). ARGV: body,
    /// size, ttl ms, epoch for a new stream, topic, timestamp ms, meta ttl ms, the history budget in bytes. A missing meta
    /// hash means the history is gone (never written, expired, or Redis lost it): the stream starts again under the new
    /// epoch. Entries past the size or older than the ttl are dropped from the head, and past the budget the largest
    /// app's largest streams lose their oldest. A stream a read started leaves the message-less set with its first
    /// message. Returns `{offset, epoch}`.
    static let publish = RedisScript(
        """
        \(Self.ledger(first: 4))
        \(Self.keepAndPublish)
        return {offset, epoch}
        """
    )

    /// Publishes with history unless the channel saw the idempotency key within its window.
    ///
    /// KEYS: as `publish`, then the key's record. ARGV: as `publish`, then the window in ms. A recorded key answers
    /// `{offset, epoch, 1}` from its record and touches nothing else; otherwise publishes as `publish`, records the
    /// position under the key with the window as its ttl, and returns `{offset, epoch, 0}`.
    static let publishIdempotent = RedisScript(
        """
        \(Self.answerRecorded(key: "KEYS[8]"))
        \(Self.ledger(first: 4))
        \(Self.keepAndPublish)
        redis.call('hset', KEYS[8], 'e', epoch, 's', offset)
        redis.call('pexpire', KEYS[8], ARGV[9])
        return {offset, epoch, 0}
        """
    )

    /// Publishes without history unless the channel saw the idempotency key within its window.
    ///
    /// KEYS: the key's record. ARGV: payload, topic, window ms. Returns `{offset, epoch, 1}` from the record of a seen
    /// key (offset 0 and an empty epoch when that publish kept no history), else publishes, records the key and
    /// returns `{0, '', 0}`.
    static let publishIdempotentWithoutHistory = RedisScript(
        """
        \(Self.answerRecorded(key: "KEYS[1]"))
        redis.call('publish', ARGV[2], ARGV[1])
        redis.call('hset', KEYS[1], 'e', '', 's', 0)
        redis.call('pexpire', KEYS[1], ARGV[3])
        return {0, '', 0}
        """
    )

    /// Returns `{offset, epoch, 1}` when the idempotency record `key` exists, ending the script.
    private static func answerRecorded(key: String) -> String {
        """
        local recorded = redis.call('hmget', \(key), 'e', 's')
        if recorded[1] then return {tonumber(recorded[2]) or 0, recorded[1], 1} end
        """
    }

    /// The body of the history publishes: assigns `offset` in the stream `epoch` names, appends, trims, holds the budget
    /// and publishes, counting every entry it adds or drops in the ledger.
    private static let keepAndPublish = """
        \(Self.startStream(epoch: "ARGV[4]"))
        local offset = redis.call('hincrby', KEYS[1], 's', 1)
        if offset == 1 then redis.call('zrem', KEYS[3], KEYS[1]) end
        redis.call('xadd', KEYS[2], offset .. '-0', 'd', ARGV[1], 't', ARGV[6])
        ledger_change(LEDGER_OWNER, KEYS[2], #ARGV[1] + #ARGV[6])
        local over = redis.call('xlen', KEYS[2]) - tonumber(ARGV[2])
        if over > 0 then ledger_delete(LEDGER_OWNER, KEYS[2], redis.call('xrange', KEYS[2], '-', '+', 'COUNT', over)) end
        local now = tonumber(ARGV[6])
        trim_older(now - tonumber(ARGV[3]))
        redis.call('pexpire', KEYS[2], ARGV[3])
        redis.call('pexpire', KEYS[1], ARGV[7])
        ledger_expires(KEYS[2], now + tonumber(ARGV[3]))
        ledger_forget_expired(now)
        ledger_evict(tonumber(ARGV[8]))
        redis.call('publish', ARGV[5], 'h' .. offset .. ':' .. epoch .. ':' .. ARGV[1])
        """

    /// Reads history.
    ///
    /// KEYS: meta, stream, then the ledger's four. ARGV: first id (`-` for all), count (empty for all), `1` to read the
    /// newest first, now ms, ttl ms. Returns `{}` when the channel has no stream, else `{last offset, epoch, entries}`.
    static let history = RedisScript(
        """
        \(Self.ledger(first: 3))
        local epoch = redis.call('hget', KEYS[1], 'e')
        if not epoch then return {} end
        \(Self.readHistory)
        """
    )

    /// Reads history, starting the stream at offset 0 under a new epoch when it has none (a positioned subscribe).
    ///
    /// KEYS: meta, stream, the app's message-less streams, then the ledger's four. ARGV: as `history`, then the epoch
    /// for a new stream and the most message-less streams. The started meta hash expires with the ttl; the app's set holds such meta keys,
    /// newest scored highest, and past the cap the oldest are deleted if still without a message (a client holding one
    /// is then told it cannot recover, never that it recovered). Those meta keys are not passed in KEYS, which one Redis
    /// server allows and a cluster would not. Returns `{last offset, epoch, entries}`.
    static let historyStartingStream = RedisScript(
        """
        \(Self.ledger(first: 4))
        \(Self.startStream(epoch: "ARGV[6]"))
        if started then
            redis.call('pexpire', KEYS[1], ARGV[5])
            local score = tonumber(ARGV[4])
            local newest = redis.call('zrange', KEYS[3], -1, -1, 'WITHSCORES')
            if #newest == 2 and tonumber(newest[2]) >= score then score = tonumber(newest[2]) + 1 end
            redis.call('zadd', KEYS[3], score, KEYS[1])
            if redis.call('pttl', KEYS[3]) < tonumber(ARGV[5]) then redis.call('pexpire', KEYS[3], ARGV[5]) end
            local over = redis.call('zcard', KEYS[3]) - tonumber(ARGV[7])
            if over > 0 then
                for _, meta in ipairs(redis.call('zrange', KEYS[3], 0, over - 1)) do
                    if redis.call('hget', meta, 's') == '0' then redis.call('del', meta) end
                end
                redis.call('zremrangebyrank', KEYS[3], 0, over - 1)
            end
        end
        \(Self.readHistory)
        """
    )

    /// Sets `epoch` to the stream's, starting the stream under `argument` when its meta hash (KEYS[1]) is gone: never
    /// written, expired, or lost. Entries left in the stream (KEYS[2]) then belong to an earlier run and go. `started`
    /// says which it was.
    private static func startStream(epoch argument: String) -> String {
        """
        local epoch = redis.call('hget', KEYS[1], 'e')
        local started = not epoch
        if started then
            epoch = \(argument)
            ledger_forget(LEDGER_OWNER, KEYS[2])
            redis.call('hset', KEYS[1], 'e', epoch, 's', 0)
        end
        """
    }

    /// Reads the newest entries after a position that fit a budget, newest first: a replay the connection can take,
    /// without reading (and holding the shared command connection for) the rest of the stream.
    ///
    /// KEYS: meta, stream, then the ledger's four. ARGV: first id, most entries, (unused), now ms, ttl ms, most bytes of
    /// field values. Returns `{}` when the channel has no stream, else `{last offset, epoch, entries}`.
    static let replay = RedisScript(
        """
        \(Self.ledger(first: 3))
        local epoch = redis.call('hget', KEYS[1], 'e')
        if not epoch then return {} end
        \(Self.trimExpired)
        local entries, bytes, last = {}, 0, '+'
        local most, budget = tonumber(ARGV[2]), tonumber(ARGV[6])
        while #entries < most do
            local batch = redis.call('xrevrange', KEYS[2], last, ARGV[1], 'COUNT', math.min(100, most - #entries))
            if #batch == 0 then break end
            for _, entry in ipairs(batch) do
                local size = entry_size(entry)
                if bytes + size > budget then return {top, epoch, entries} end
                bytes = bytes + size
                entries[#entries + 1] = entry
            end
            last = '(' .. batch[#batch][1]
        end
        return {top, epoch, entries}
        """
    )

    /// Drops expired entries from the stream's head, once `epoch` holds the stream's epoch; `top` is its last offset.
    private static let trimExpired = """
        local top = redis.call('hget', KEYS[1], 's') or '0'
        trim_older(tonumber(ARGV[4]) - tonumber(ARGV[5]))
        """

    /// Deletes a channel's kept entries and their count; the meta hash stays.
    ///
    /// KEYS: meta, stream, then the ledger's four.
    static let removeHistory = RedisScript(
        """
        \(Self.ledger(first: 3))
        ledger_forget(LEDGER_OWNER, KEYS[2])
        return 1
        """
    )

    /// The read both history scripts share, once `epoch` holds the stream's epoch.
    private static let readHistory = """
        \(trimExpired)
        local entries
        if ARGV[3] == '1' then
            if ARGV[2] ~= '' then
                entries = redis.call('xrevrange', KEYS[2], '+', '-', 'COUNT', ARGV[2])
            else
                entries = redis.call('xrevrange', KEYS[2], '+', '-')
            end
        elseif ARGV[2] ~= '' then
            entries = redis.call('xrange', KEYS[2], ARGV[1], '+', 'COUNT', ARGV[2])
        else
            entries = redis.call('xrange', KEYS[2], ARGV[1], '+')
        end
        return {top, epoch, entries}
        """

    /// Adds a presence holder.
    ///
    /// KEYS: members, holders, counts, channels, joined. ARGV: user, holder member, metadata, now ms, key ttl ms,
    /// channel id, `1` when the holder is the app's server, the most members. Returns `join` (a new member), `update`
    /// (known member, new metadata), `{'client', the member's metadata}` (a connection joined a member others hold),
    /// `same`, or `full` (a new
    /// member past the cap: nothing is changed, so racing joins cannot pass it together). A connection joining a
    /// member other holders hold keeps its metadata; the server may change it.
    static let presenceJoin = RedisScript(
        """
        if redis.call('hexists', KEYS[1], ARGV[1]) == 0 and redis.call('hlen', KEYS[1]) >= tonumber(ARGV[8]) then
            return 'full'
        end
        local held = tonumber(redis.call('hget', KEYS[3], ARGV[1]) or '0')
        local added = redis.call('zadd', KEYS[2], ARGV[4], ARGV[2])
        if added == 1 then redis.call('hincrby', KEYS[3], ARGV[1], 1) end
        redis.call('hset', KEYS[5], ARGV[2], ARGV[3])
        local old = redis.call('hget', KEYS[1], ARGV[1])
        local others = held - (1 - added)
        local metadata = ARGV[3]
        if old and others > 0 and ARGV[7] ~= '1' then
            metadata = string.sub(old, string.find(old, ':', 1, true) + 1)
        end
        redis.call('hset', KEYS[1], ARGV[1], ARGV[4] .. ':' .. metadata)
        redis.call('sadd', KEYS[4], ARGV[6])
        for _, i in ipairs({1, 2, 3, 5}) do redis.call('pexpire', KEYS[i], ARGV[5]) end
        if not old then return 'join' end
        if others > 0 and ARGV[7] ~= '1' then
            if added == 1 then return {'client', metadata} end
            return 'same'
        end
        local sep = string.find(old, ':', 1, true)
        if string.sub(old, sep + 1) ~= metadata then return 'update' end
        return 'same'
        """
    )

    /// Replaces a member's metadata; a server-side join it has is heard of again, as a join would be.
    ///
    /// KEYS: members, holders. ARGV: user, metadata, now ms, the server holder's member. Returns nil for an unknown
    /// member, else `update` or `same`.
    static let presenceUpdate = RedisScript(
        """
        local old = redis.call('hget', KEYS[1], ARGV[1])
        if not old then return false end
        redis.call('hset', KEYS[1], ARGV[1], ARGV[3] .. ':' .. ARGV[2])
        redis.call('zadd', KEYS[2], 'XX', ARGV[3], ARGV[4])
        local sep = string.find(old, ':', 1, true)
        if string.sub(old, sep + 1) ~= ARGV[2] then return 'update' end
        return 'same'
        """
    )

    /// A channel's members with their holders, read at one moment.
    ///
    /// KEYS: members, holders, joined. Returns `{{user, record, ...}, {holder member, score, ...}, {holder member,
    /// metadata, ...}}`.
    static let presenceMembers = RedisScript(
        """
        return {redis.call('hgetall', KEYS[1]), redis.call('zrange', KEYS[2], 0, -1, 'WITHSCORES'), redis.call('hgetall', KEYS[3])}
        """
    )

    /// How many members a channel has and whether one user is among them.
    ///
    /// KEYS: members. ARGV: user. Returns `{count, 0 or 1}`.
    static let presenceHeadcount = RedisScript(
        """
        return {redis.call('hlen', KEYS[1]), redis.call('hexists', KEYS[1], ARGV[1])}
        """
    )

    /// Removes a presence holder.
    ///
    /// KEYS: members, holders, counts, joined. ARGV: user, holder member, `1` when the holder is a connection. Returns
    /// `{'leave', record, joined}` when that was the user's last holder (the record `<lastSeen>:<metadata>`, or empty
    /// when it was already gone), `{'client', joined}` when a connection left a member others hold, else nil; `joined`
    /// is what the holder joined with.
    static let presenceLeave = RedisScript(
        """
        if redis.call('zrem', KEYS[2], ARGV[2]) == 0 then return false end
        local joined = redis.call('hget', KEYS[4], ARGV[2]) or ''
        redis.call('hdel', KEYS[4], ARGV[2])
        if redis.call('hincrby', KEYS[3], ARGV[1], -1) > 0 then
            if ARGV[3] == '1' then return {'client', joined} end
            return false
        end
        local old = redis.call('hget', KEYS[1], ARGV[1])
        redis.call('hdel', KEYS[1], ARGV[1])
        redis.call('hdel', KEYS[3], ARGV[1])
        return {'leave', old or '', joined}
        """
    )

    /// Drops holders not heard of since a cutoff.
    ///
    /// KEYS: members, holders, counts, channels, joined. ARGV: cutoff ms, channel id. Returns `{user, record, ...}`
    /// for every member that lost its last holder; forgets the channel in the channels set once it has no member.
    static let presenceExpire = RedisScript(
        """
        local stale = redis.call('zrangebyscore', KEYS[2], '-inf', '(' .. ARGV[1])
        local gone = {}
        for _, holder in ipairs(stale) do
            redis.call('zrem', KEYS[2], holder)
            redis.call('hdel', KEYS[5], holder)
            local sep = string.find(holder, '\\0', 1, true)
            local user = string.sub(holder, sep + 1)
            if redis.call('hincrby', KEYS[3], user, -1) <= 0 then
                local old = redis.call('hget', KEYS[1], user)
                redis.call('hdel', KEYS[1], user)
                redis.call('hdel', KEYS[3], user)
                if old then
                    table.insert(gone, user)
                    table.insert(gone, old)
                end
            end
        end
        if redis.call('hlen', KEYS[1]) == 0 and redis.call('zcard', KEYS[2]) == 0 then
            redis.call('srem', KEYS[4], ARGV[2])
        end
        return gone
        """
    )

    /// Marks this node's connection holders of a channel as alive (re-adding any that Redis lost).
    ///
    /// KEYS: members, holders, counts, channels, joined. ARGV: now ms, key ttl ms, channel id, then quadruples of
    /// holder member, user, record, what the holder joined with.
    static let presenceRefresh = RedisScript(
        """
        for i = 4, #ARGV, 4 do
            if redis.call('zadd', KEYS[2], ARGV[1], ARGV[i]) == 1 then
                redis.call('hincrby', KEYS[3], ARGV[i + 1], 1)
                redis.call('hsetnx', KEYS[1], ARGV[i + 1], ARGV[i + 2])
            end
            redis.call('hsetnx', KEYS[5], ARGV[i], ARGV[i + 3])
        end
        redis.call('sadd', KEYS[4], ARGV[3])
        for _, i in ipairs({1, 2, 3, 5}) do redis.call('pexpire', KEYS[i], ARGV[2]) end
        return 1
        """
    )
}
