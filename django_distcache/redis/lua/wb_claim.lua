-- Claim up to `limit` of the candidate rows (read from the pending zset just before)
-- that are still pending and due, into batch B, skipping rows that an unfinished batch
-- holds (so one row's writes reach the database in order). A claimed row's record
-- moves to its held key.
-- KEYS: pending zset, claimed hash (pk -> batch), batches zset, batch hash, then per
--       candidate: its record, its held record.
-- ARGV: due by (ms), limit, batch id, lease expiry (ms), candidate pks...
-- A row whose flush died before (field crashes) is claimed alone, so a row that kills
-- its worker takes no other row down with it and its deaths can be counted.
-- Returns the claimed pks (their writes are read by wb_begin, once the rows are locked).
local pending, claimed, batches, batch = unpack(KEYS, 1, 4)
local due, limit, id = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local out, taken, removed, owners, members = {}, 0, {}, {}, {}
for c = 5, #ARGV do
  if taken >= limit then break end
  local pk, rec, held = ARGV[c], KEYS[2 * c - 5], KEYS[2 * c - 4]
  local score = redis.call('ZSCORE', pending, pk)
  if score and tonumber(score) <= due then
    local crashed = redis.call('HEXISTS', rec, 'crashes') == 1
    if crashed and taken > 0 then break end
    if redis.call('HEXISTS', claimed, pk) == 0 then
      removed[#removed + 1] = pk
      if redis.call('EXISTS', rec) == 1 then
        redis.call('RENAME', rec, held)
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
end
-- NOTE: one call per kind of change rather than per row.
each_slice(removed, function(...) redis.call('ZREM', pending, ...) end)
each_slice(owners, function(...) redis.call('HSET', claimed, ...) end)
each_slice(members, function(...) redis.call('HSET', batch, ...) end)
if taken > 0 then redis.call('ZADD', batches, ARGV[4], id) end
return out
