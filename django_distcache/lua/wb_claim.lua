-- Claim up to `limit` pending rows due by now into batch B, skipping rows that an
-- unfinished batch holds (so one row's writes reach the database in order).
-- KEYS: pending zset, claimed hash (pk -> batch), batches zset, batch hash.
-- ARGV: now_ms, limit, batch id, lease expiry ms, record prefix, claimed prefix.
-- A row whose flush died before (field crashes) is claimed alone, so a row that kills
-- its worker takes no other row down with it and its deaths can be counted.
-- Returns the claimed pks (their writes are read by wb_begin, once the rows are locked).
local pending, claimed, batches, batch = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local limit, id = tonumber(ARGV[2]), ARGV[3]
local candidates = redis.call('ZRANGEBYSCORE', pending, '-inf', ARGV[1], 'LIMIT', 0, limit * 2)
local out, taken, removed, owners, members = {}, 0, {}, {}, {}
for _, pk in ipairs(candidates) do
  if taken >= limit then break end
  local rec = ARGV[5] .. pk
  local crashed = redis.call('HEXISTS', rec, 'crashes') == 1
  if crashed and taken > 0 then break end
  if redis.call('HEXISTS', claimed, pk) == 0 then
    removed[#removed + 1] = pk
    if redis.call('EXISTS', rec) == 1 then
      redis.call('RENAME', rec, ARGV[6] .. pk)
      owners[#owners + 1] = pk
      owners[#owners + 1] = id
      members[#members + 1] = 'p:' .. pk
      members[#members + 1] = '1'
      out[#out + 1] = pk
      taken = taken + 1
      if crashed then break end
    end
  end
end
-- NOTE: one call per kind of change rather than per row (in slices: Lua's stack).
for i = 1, #removed, 2000 do
  redis.call('ZREM', pending, unpack(removed, i, math.min(i + 1999, #removed)))
end
for i = 1, #owners, 2000 do
  local last = math.min(i + 1999, #owners)
  redis.call('HSET', claimed, unpack(owners, i, last))
  redis.call('HSET', batch, unpack(members, i, last))
end
if taken > 0 then redis.call('ZADD', batches, ARGV[4], id) end
return out
