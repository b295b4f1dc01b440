-- Finish batch B once: forget rows written to the database, put rows to retry back
-- in front of newer writes, move dead rows to the dead-letter list, drop the rows'
-- cached entries. A second ack of the same batch does nothing (returns 0).
-- KEYS: batches, claimed, batch hash, pending, dead list, stats hash, since zset.
-- ARGV: batch id, claimed prefix, record prefix, writes (buffered writes of the done
--       rows), entry key prefix ('' when the entries live in another Redis), n_done, done pks..., n_retry,
--       (pk, score, attempts_added, error)..., n_dead, (pk, dead-letter item)...,
--       attempts_added -1: the row's flush died (its crashes count goes up instead),
--       dead letters kept (the newest; 0: all)
-- The rows of a batch still listed in `batches` are claimed by it alone, so they are
-- released without checking their owner.
local batches, claimed, batch, pending, dead, stats, since = unpack(KEYS, 1, 7)
local id, held_prefix, rec_prefix = ARGV[1], ARGV[2], ARGV[3]
local root = string.sub(rec_prefix, 1, -4)

-- The row has no deferred writes left: its backlog age and its flag (read with its
-- cached entry) go, unless a direct write in progress set some aside.
local function forget(pk)
  if redis.call('EXISTS', root .. ':mk:' .. pk) == 1 then return end
  redis.call('ZREM', since, pk)
  redis.call('DEL', root .. ':f:' .. pk)
end
if redis.call('ZREM', batches, id) == 0 then return 0 end

local function each_slice(list, call)
  for i = 1, #list, 2000 do call(unpack(list, i, math.min(i + 1999, #list))) end
end

local function has_writes(key)
  for _, f in ipairs(redis.call('HKEYS', key)) do
    local kind = string.sub(f, 1, 2)
    if kind == 'v:' or kind == 'i:' then return true end
  end
  return false
end

local function merge_back(pk, score, added, err)
  local held, rec = held_prefix .. pk, rec_prefix .. pk
  if redis.call('EXISTS', held) == 0 then return end
  if redis.call('EXISTS', rec) == 0 then
    redis.call('RENAME', held, rec)
  else
    -- `rec` holds newer writes: a newer value wins, increments add up, and an
    -- older increment under a newer value is void.
    local newer_values = {}
    for _, f in ipairs(redis.call('HKEYS', rec)) do
      if string.sub(f, 1, 2) == 'v:' then newer_values[string.sub(f, 3)] = true end
    end
    local old = redis.call('HGETALL', held)
    for i = 1, #old, 2 do
      local f, v = old[i], old[i + 1]
      local kind, name = string.sub(f, 1, 2), string.sub(f, 3)
      if kind == 'v:' then
        if not newer_values[name] then redis.call('HSET', rec, f, v) end
      elseif kind == 'i:' then
        if not newer_values[name] then redis.call('HINCRBY', rec, f, v) end
      elseif f == 'n' or f == 'attempts' or f == 'crashes' then
        redis.call('HINCRBY', rec, f, v)
      elseif f == 'since' then
        redis.call('HSET', rec, f, v)
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
    forget(pk)
    return
  end
  redis.call('ZADD', pending, score, pk)
end

local bases, held, released = {}, {}, {}
local i = 6
local n_done = tonumber(ARGV[i])
for j = i + 1, i + n_done do
  held[#held + 1] = held_prefix .. ARGV[j]
  released[#released + 1] = ARGV[j]
  bases[#bases + 1] = ARGV[j]
end
i = i + n_done + 1
local n_retry = tonumber(ARGV[i])
for j = i + 1, i + 4 * n_retry, 4 do
  released[#released + 1] = ARGV[j]
  merge_back(ARGV[j], ARGV[j + 1], ARGV[j + 2], ARGV[j + 3])
end
i = i + 4 * n_retry + 1
local n_dead = tonumber(ARGV[i])
for j = i + 1, i + 2 * n_dead, 2 do
  held[#held + 1] = held_prefix .. ARGV[j]
  released[#released + 1] = ARGV[j]
  redis.call('RPUSH', dead, ARGV[j + 1])
  bases[#bases + 1] = ARGV[j]
end
each_slice(held, function(...) redis.call('DEL', ...) end)
each_slice(released, function(...) redis.call('HDEL', claimed, ...) end)
redis.call('DEL', batch)
if n_done > 0 then
  redis.call('HINCRBY', stats, 'writes', ARGV[4])
  redis.call('HINCRBY', stats, 'rows', n_done)
end
if n_dead > 0 then
  redis.call('HINCRBY', stats, 'dead_lettered', n_dead)
  local kept = tonumber(ARGV[#ARGV])
  if kept > 0 then redis.call('LTRIM', dead, -kept, -1) end
end
-- The backlog's age: a row written now may still have newer writes waiting.
for _, pk in ipairs(bases) do
  local first = redis.call('HGET', rec_prefix .. pk, 'since')
  if first then redis.call('ZADD', since, first, pk) else forget(pk) end
end
-- The written rows' entries go (with their leases); the rows that had one are
-- returned, for the flush to store them afresh.
local cached = {}
if ARGV[5] ~= '' and #bases > 0 then
  local entries = {}
  for _, pk in ipairs(bases) do
    if redis.call('EXISTS', ARGV[5] .. pk) == 1 then cached[#cached + 1] = pk end
    entries[#entries + 1] = ARGV[5] .. pk
    entries[#entries + 1] = ARGV[5] .. pk .. '!lease'
  end
  each_slice(entries, function(...) redis.call('DEL', ...) end)
end
return {1, cached}
