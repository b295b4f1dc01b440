-- A direct write is about to set these fields of rows: move the deferred writes to
-- them made so far out of the buffer, into the write's mark (one hash per row), so
-- that a flush no longer writes them and writes made from now on are kept apart.
-- The mark is dropped when the direct write commits, or its writes restored if not.
-- KEYS: claimed hash. ARGV: buffer root, token, txid ('' if unknown), n_fields,
-- fields..., pks... Returns how many rows had deferred writes to set aside.
-- NOTE: the buffer keys are built here from the root, as in wb_write.
local root, token, txid, n = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)

-- Move the fields from `from` to `to` (a newer record over an older one).
local function move(from, to)
  local moved = false
  for f = 5, 4 + n do
    local name = ARGV[f]
    local value = redis.call('HGET', from, 'v:' .. name)
    local added = redis.call('HGET', from, 'i:' .. name)
    if value then
      redis.call('HSET', to, 'v:' .. name, value)
      redis.call('HDEL', to, 'i:' .. name)
      moved = true
    end
    if added then
      redis.call('HINCRBY', to, 'i:' .. name, added)
      moved = true
    end
    if value or added then redis.call('HDEL', from, 'v:' .. name, 'i:' .. name) end
  end
  return moved
end

local function has_writes(key)
  for _, f in ipairs(redis.call('HKEYS', key)) do
    local kind = string.sub(f, 1, 2)
    if kind == 'v:' or kind == 'i:' then return true end
  end
  return false
end

local marked = 0
for p = 5 + n, #ARGV do
  local pk = ARGV[p]
  local mark = root .. ':m:' .. pk .. ':' .. token
  local moved = false
  -- Writes held by a batch that has not begun (its flush has not locked the rows):
  -- older than the pending ones. A batch that began writes them before this write.
  local id = redis.call('HGET', KEYS[1], pk)
  if id then
    local began = redis.call('HGET', root .. ':b:' .. id, 'txid')
    if not began or began == '' then
      moved = move(root .. ':c:' .. id .. ':' .. pk, mark) or moved
    end
  end
  local rec = root .. ':r:' .. pk
  moved = move(rec, mark) or moved
  if redis.call('EXISTS', rec) == 1 and not has_writes(rec) then
    redis.call('DEL', rec)
    redis.call('ZREM', root .. ':pending', pk)
  end
  if moved then
    redis.call('HSET', mark, 'txid', txid, 'at', now)
    redis.call('SADD', root .. ':mk:' .. pk, token)
    redis.call('ZADD', root .. ':marks', now, token .. ':' .. pk)
    marked = marked + 1
  end
end
return marked
