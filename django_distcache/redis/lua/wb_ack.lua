-- Finish batch B once: forget rows written to the database, put rows to retry back
-- in front of newer writes, move dead rows to the dead-letter list. A second ack of
-- the same batch does nothing (returns 0). The rows' cached entries are dropped by
-- the caller just before (outcome.py).
-- KEYS: batches, claimed, batch hash, pending, dead list, stats hash, since zset,
--       txids hash, then per row (done rows, rows to retry, dead rows, in that order):
--       its held record, record, flag and marks hash.
-- ARGV: batch id, writes (buffered writes of the done rows), n_done, done pks...,
--       n_retry, (pk, score, attempts_added, error)..., n_dead, (pk, dead-letter item)...,
--       dead letters kept (the newest; 0: all).
--       attempts_added -1: the row's flush died (its crashes count goes up instead).
-- The rows of a batch still listed in `batches` are claimed by it alone, so they are
-- released without checking their owner.
local batches, claimed, batch, pending, dead, stats, since, txids = unpack(KEYS, 1, 8)
local id = ARGV[1]
if redis.call('ZREM', batches, id) == 0 then return 0 end
redis.call('HDEL', txids, id)

-- The keys of the r-th row of the lists above.
local function row(r)
  local k = 8 + 4 * (r - 1)
  return KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4]
end

-- The row has no deferred writes left: its backlog age and its flag (read with its
-- cached entry) go, unless a direct write in progress set some aside.
local function forget(pk, flag, marks)
  if redis.call('EXISTS', marks) == 1 then return end
  redis.call('ZREM', since, pk)
  redis.call('DEL', flag)
end

-- A row to retry: its held writes go back under the newer ones of its record.
local function merge_back(r, pk, score, added, err)
  local held, rec, flag, marks = row(r)
  if redis.call('EXISTS', held) == 0 then return end
  if redis.call('EXISTS', rec) == 0 then
    redis.call('RENAME', held, rec)
  else
    local old = redis.call('HGETALL', held)
    merge_older(rec, old)
    for i = 1, #old, 2 do
      local f = old[i]
      if f == 'n' or f == 'attempts' or f == 'crashes' then
        redis.call('HINCRBY', rec, f, old[i + 1])
      elseif f == 'since' then
        redis.call('HSET', rec, f, old[i + 1])
      end
    end
    redis.call('DEL', held)
  end
  if tonumber(added) > 0 then redis.call('HINCRBY', rec, 'attempts', added) end
  if tonumber(added) < 0 then redis.call('HINCRBY', rec, 'crashes', 1) end
  if err ~= '' then redis.call('HSET', rec, 'error', err) end
  if not has_writes(rec) then
    -- A direct write superseded all of it meanwhile.
    redis.call('DEL', rec)
    redis.call('ZREM', pending, pk)
    forget(pk, flag, marks)
    return
  end
  redis.call('ZADD', pending, score, pk)
end

-- Rows done or dead: their held writes go; a newer record keeps the row in the backlog.
local function finish(r, pk)
  local held, rec, flag, marks = row(r)
  redis.call('DEL', held)
  local first = redis.call('HGET', rec, 'since')
  if first then redis.call('ZADD', since, first, pk) else forget(pk, flag, marks) end
end

local released, r = {}, 0
local i = 3
local n_done = tonumber(ARGV[i])
for j = i + 1, i + n_done do
  r = r + 1
  released[#released + 1] = ARGV[j]
  finish(r, ARGV[j])
end
i = i + n_done + 1
local n_retry = tonumber(ARGV[i])
for j = i + 1, i + 4 * n_retry, 4 do
  r = r + 1
  released[#released + 1] = ARGV[j]
  merge_back(r, ARGV[j], ARGV[j + 1], ARGV[j + 2], ARGV[j + 3])
end
i = i + 4 * n_retry + 1
local n_dead = tonumber(ARGV[i])
for j = i + 1, i + 2 * n_dead, 2 do
  r = r + 1
  released[#released + 1] = ARGV[j]
  redis.call('RPUSH', dead, ARGV[j + 1])
  finish(r, ARGV[j])
end
each_slice(released, function(...) redis.call('HDEL', claimed, ...) end)
redis.call('DEL', batch)
if n_done > 0 then
  redis.call('HINCRBY', stats, 'writes', ARGV[2])
  redis.call('HINCRBY', stats, 'rows', n_done)
end
if n_dead > 0 then
  redis.call('HINCRBY', stats, 'dead_lettered', n_dead)
  local kept = tonumber(ARGV[#ARGV])
  if kept > 0 then redis.call('LTRIM', dead, -kept, -1) end
end
return 1
