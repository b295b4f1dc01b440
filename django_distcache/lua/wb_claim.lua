-- Claim up to `limit` pending rows due by now into batch B, skipping rows that an
-- unfinished batch holds (so one row's writes reach the database in order).
-- KEYS: pending zset, claimed hash (pk -> batch), batches zset, batch hash.
-- ARGV: now_ms, limit, batch id, lease expiry ms, record prefix, claimed prefix.
-- Returns {pk1, {field, value, ...}, pk2, ...}.
local pending, claimed, batches, batch = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local limit, id = tonumber(ARGV[2]), ARGV[3]
local candidates = redis.call('ZRANGEBYSCORE', pending, '-inf', ARGV[1], 'LIMIT', 0, limit * 2)
local out, taken = {}, 0
for _, pk in ipairs(candidates) do
  if taken >= limit then break end
  if redis.call('HEXISTS', claimed, pk) == 0 then
    local rec, held = ARGV[5] .. pk, ARGV[6] .. pk
    redis.call('ZREM', pending, pk)
    if redis.call('EXISTS', rec) == 1 then
      redis.call('RENAME', rec, held)
      redis.call('HSET', claimed, pk, id)
      redis.call('HSET', batch, 'p:' .. pk, '1')
      out[#out + 1] = pk
      out[#out + 1] = redis.call('HGETALL', held)
      taken = taken + 1
    end
  end
end
if taken > 0 then redis.call('ZADD', batches, ARGV[4], id) end
return out
