/**
 * The Lua scripts the cluster runs in Redis. Each runs atomically, and each takes its time from Redis (`TIME`),
 * never from a worker: a worker whose clock is off cannot make itself look alive or make another look dead.
 */

/** Registers or refreshes a worker. KEYS: workers zset, worker hash. ARGV: id, ttlMs, field, value, … */
export const HEARTBEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[2], 'reserved', 0, 'seenAt', now)
redis.call('PEXPIRE', KEYS[2], ttl * 3)
return now
`;

/**
 * Forgets lapsed workers and picks the least-loaded live one that is not draining and has room; reserves a place
 * on it (until its next heartbeat) so that picks in a burst spread out. KEYS: workers zset. ARGV: hash prefix.
 * Returns { id, url } or nil when no worker can take a session.
 */
export const PICK = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, id in ipairs(lapsed) do redis.call('DEL', ARGV[1] .. id) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local best, bestScore, bestUrl = nil, nil, nil
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')) do
  local h = redis.call('HMGET', ARGV[1] .. id, 'load', 'sessions', 'maxSessions', 'reserved', 'draining', 'url')
  local load, sessions, max, reserved = tonumber(h[1]), tonumber(h[2]), tonumber(h[3]), tonumber(h[4]) or 0
  if load and sessions and max and max > 0 and h[5] ~= '1' and sessions + reserved < max then
    local score = load + reserved / max
    if bestScore == nil or score < bestScore then best, bestScore, bestUrl = id, score, h[6] end
  end
end
if best == nil then return nil end
redis.call('HINCRBY', ARGV[1] .. best, 'reserved', 1)
return { best, bestUrl }
`;

/** Lists live workers (forgetting lapsed ones). KEYS: workers zset. ARGV: hash prefix. */
export const LIVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, id in ipairs(lapsed) do redis.call('DEL', ARGV[1] .. id) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
`;

/** Makes a worker the conversation's owner under a new epoch. KEYS: owner hash. ARGV: worker, ttlMs. */
export const CLAIM = `
local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
redis.call('HSET', KEYS[1], 'owner', ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return epoch
`;

/**
 * Brings the stored history to the writer's: keeps the first keepLen items, appends the rest. Fenced: only the
 * owner at the epoch it claimed may write. Returns { 1, length } written, { -1, owner, epoch } refused (fenced),
 * { -2, length } when Redis holds fewer than keepLen items (it lost data: send everything).
 * A conversation whose owner record is gone (Redis restarted without its data) is re-established for the writer.
 * KEYS: owner hash, items list. ARGV: worker, epoch, keepLen, ttlMs, item json, …
 */
export const SYNC = `
local owner = redis.call('HGET', KEYS[1], 'owner')
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if owner == false then
  redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'epoch', ARGV[2])
elseif owner ~= ARGV[1] or tonumber(epoch) ~= tonumber(ARGV[2]) then
  return { -1, owner, epoch }
end
local keep = tonumber(ARGV[3])
local len = redis.call('LLEN', KEYS[2])
if len < keep then return { -2, len } end
if keep == 0 then redis.call('DEL', KEYS[2]) elseif len > keep then redis.call('LTRIM', KEYS[2], 0, keep - 1) end
for i = 5, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
local ttl = tonumber(ARGV[4])
redis.call('PEXPIRE', KEYS[1], ttl)
if keep + #ARGV - 4 > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return { 1, keep + #ARGV - 4 }
`;
