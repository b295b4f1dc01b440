-- A direct write is about to set these fields of rows: move the deferred writes to
-- them made so far out of the buffer, into the write's mark (fields "<token>:..." of
-- the row's marks hash), so that a flush no longer writes them and writes made from
-- now on are kept apart. The mark is dropped when the direct write commits, or its
-- writes restored if not (wb_unmark).
-- KEYS: claimed hash, txids hash, marks zset, pending zset, then per row: its record,
--       held record and marks hash.
-- ARGV: token, txid ('' if unknown), n_fields, fields..., pks...
-- Returns how many rows had deferred writes to set aside.
local claimed, txids, marks, pending = unpack(KEYS, 1, 4)
local token, txid, n = ARGV[1], ARGV[2], tonumber(ARGV[3])
local tag = token .. ':'
local now = now_ms()

-- Move the fields from record `from` into the mark in hash `to` (newer over older).
local function move(from, to)
  local moved = false
  for f = 4, 3 + n do
    local name = ARGV[f]
    local value = redis.call('HGET', from, 'v:' .. name)
    local added = redis.call('HGET', from, 'i:' .. name)
    if value then
      redis.call('HSET', to, tag .. 'v:' .. name, value)
      redis.call('HDEL', to, tag .. 'i:' .. name)
    end
    if added then redis.call('HINCRBY', to, tag .. 'i:' .. name, added) end
    if value or added then
      redis.call('HDEL', from, 'v:' .. name, 'i:' .. name)
      moved = true
    end
  end
  return moved
end

local marked = 0
for p = 4 + n, #ARGV do
  local pk = ARGV[p]
  local k = 4 + 3 * (p - 4 - n)
  local rec, held, mark = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
  local moved = false
  -- Writes held by a batch that has not begun (its flush has not locked the rows):
  -- older than the pending ones. A batch that began writes them before this write.
  local id = redis.call('HGET', claimed, pk)
  if id then
    local began = redis.call('HGET', txids, id)
    if not began or began == '' then moved = move(held, mark) or moved end
  end
  moved = move(rec, mark) or moved
  if redis.call('EXISTS', rec) == 1 and not has_writes(rec) then
    redis.call('DEL', rec)
    redis.call('ZREM', pending, pk)
  end
  if moved then
    redis.call('HSET', mark, tag .. 'txid', txid, tag .. 'at', now)
    redis.call('ZADD', marks, now, tag .. pk)
    marked = marked + 1
  end
end
return marked
