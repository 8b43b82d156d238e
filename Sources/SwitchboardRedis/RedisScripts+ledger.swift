/// The history ledger: what every kept entry in Redis costs, per stream, per app and in all, so kept history stays within
/// `[limits] max_history_mb` on Redis as it does in the memory engine.
///
/// Every script that adds or deletes stream entries keeps the counts with it, in the same atomic step. Streams that
/// expire by their key's ttl are found through the expiry set, a few at each publish (one whose ttl was taken away
/// stays counted while it keeps its entries); a stream that went another way
/// (deleted by hand, evicted by Redis) is found when eviction reaches it and finds it empty. One publish's eviction
/// looks at 64 streams and deletes 1,000 entries at most, so its script stays short; the next publish goes on.
extension RedisScripts {
    /// Names the ledger's four keys (`RedisKeys.historyTotal`, `historyApps`, the app's `historyStreams`,
    /// `historyExpiry`), passed from KEYS[`first`] on, and defines the functions the history scripts share.
    static func ledger(first: Int) -> String {
        """
        local LEDGER_TOTAL, LEDGER_APPS, LEDGER_OWNER, LEDGER_EXPIRY = KEYS[\(first)], KEYS[\(first + 1)], KEYS[\(first + 2)], KEYS[\(first + 3)]
        \(Self.ledgerFunctions)
        """
    }

    private static let ledgerFunctions = """
        local function entry_size(entry)
            local size = 0
            for i = 2, #entry[2], 2 do size = size + #entry[2][i] end
            return size
        end
        local function ledger_change(owner, stream, delta)
            if delta == 0 then return end
            if tonumber(redis.call('zincrby', owner, delta, stream)) <= 0 then redis.call('zrem', owner, stream) end
            if tonumber(redis.call('zincrby', LEDGER_APPS, delta, owner)) <= 0 then redis.call('zrem', LEDGER_APPS, owner) end
            if redis.call('incrby', LEDGER_TOTAL, delta) < 0 then redis.call('set', LEDGER_TOTAL, 0) end
        end
        local function ledger_counted(owner, stream)
            return tonumber(redis.call('zscore', owner, stream) or '0')
        end
        local function ledger_delete(owner, stream, entries)
            if #entries == 0 then return 0 end
            local freed, ids = 0, {}
            for _, entry in ipairs(entries) do
                freed = freed + entry_size(entry)
                ids[#ids + 1] = entry[1]
            end
            redis.call('xdel', stream, unpack(ids))
            ledger_change(owner, stream, -freed)
            return freed
        end
        local function ledger_forget(owner, stream)
            ledger_change(owner, stream, -ledger_counted(owner, stream))
            redis.call('del', stream)
        end
        local function trim_older(cutoff)
            while true do
                local head = redis.call('xrange', KEYS[2], '-', '+', 'COUNT', 1)
                if #head == 0 or tonumber(head[1][2][4]) >= cutoff then break end
                ledger_delete(LEDGER_OWNER, KEYS[2], head)
            end
        end
        local function ledger_expires(stream, at)
            redis.call('zadd', LEDGER_EXPIRY, at, #LEDGER_OWNER .. ':' .. LEDGER_OWNER .. stream)
        end
        local function ledger_forget_expired(now)
            for _, member in ipairs(redis.call('zrangebyscore', LEDGER_EXPIRY, '-inf', now, 'LIMIT', 0, 16)) do
                local colon = string.find(member, ':', 1, true)
                local length = tonumber(string.sub(member, 1, colon - 1))
                local owner = string.sub(member, colon + 1, colon + length)
                local stream = string.sub(member, colon + length + 1)
                local ttl = redis.call('pttl', stream)
                if ttl > 0 then
                    redis.call('zadd', LEDGER_EXPIRY, now + ttl, member)
                else
                    if ttl == -2 then ledger_change(owner, stream, -ledger_counted(owner, stream)) end
                    redis.call('zrem', LEDGER_EXPIRY, member)
                end
            end
        end
        local function ledger_evict(budget)
            local total = tonumber(redis.call('get', LEDGER_TOTAL) or '0')
            if total <= budget then return end
            local owed, deleted, steps = total - (budget - math.floor(budget / 10)), 0, 0
            while owed > 0 and deleted < 1000 and steps < 64 do
                steps = steps + 1
                local apps = redis.call('zrevrange', LEDGER_APPS, 0, 1, 'WITHSCORES')
                if #apps == 0 then
                    redis.call('set', LEDGER_TOTAL, 0)
                    break
                end
                local owner, appBytes, nextApp = apps[1], tonumber(apps[2]), tonumber(apps[4] or '0')
                local streams = redis.call('zrevrange', owner, 0, 1, 'WITHSCORES')
                if #streams == 0 then
                    redis.call('zrem', LEDGER_APPS, owner)
                    redis.call('incrby', LEDGER_TOTAL, -appBytes)
                    owed = owed - appBytes
                else
                    local stream, bytes = streams[1], tonumber(streams[2])
                    local level = math.max(tonumber(streams[4] or '0'), bytes - (appBytes - nextApp), bytes - owed)
                    local batch = redis.call('xrange', stream, '-', '+', 'COUNT', math.min(100, 1000 - deleted))
                    if #batch == 0 then
                        ledger_change(owner, stream, -bytes)
                        owed = owed - bytes
                    else
                        local cut, freed = {}, 0
                        for _, entry in ipairs(batch) do
                            if #cut > 0 and bytes - freed <= level then break end
                            freed = freed + entry_size(entry)
                            cut[#cut + 1] = entry
                        end
                        deleted = deleted + #cut
                        owed = owed - ledger_delete(owner, stream, cut)
                    end
                end
            end
        end
        """
}
