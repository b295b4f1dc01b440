-- Shared by the write-behind scripts: put before each of them when it is loaded
-- (writebehind/scripts.py). Every key a script touches is in its KEYS, and all the
-- keys of one model's buffer share its hash tag, "{<app_label.model>}".

-- The server's clock in milliseconds.
local function now_ms()
  local t = redis.call('TIME')
  return t[1] * 1000 + math.floor(t[2] / 1000)
end

-- Whether the hash at `key` holds deferred writes (v:<attname> or i:<attname> fields).
local function has_writes(key)
  for _, f in ipairs(redis.call('HKEYS', key)) do
    local kind = string.sub(f, 1, 2)
    if kind == 'v:' or kind == 'i:' then return true end
  end
  return false
end

-- Lay older writes (a flat list of field, value) under the newer ones of record `rec`:
-- a newer value wins, increments add up, and an older increment under a newer value
-- is void. Other fields of `older` are left out.
local function merge_older(rec, older)
  local newer = {}
  for _, f in ipairs(redis.call('HKEYS', rec)) do
    if string.sub(f, 1, 2) == 'v:' then newer[string.sub(f, 3)] = true end
  end
  for i = 1, #older, 2 do
    local f = older[i]
    local kind, name = string.sub(f, 1, 2), string.sub(f, 3)
    if not newer[name] then
      if kind == 'v:' then redis.call('HSET', rec, f, older[i + 1]) end
      if kind == 'i:' then redis.call('HINCRBY', rec, f, older[i + 1]) end
    end
  end
end

-- Row `pk`'s record `rec` waits to be flushed: counted as one write more, due now
-- unless it was already pending, aged in the backlog, and flagged for reads.
local function requeue(rec, pending, since, flag, pk)
  local now = now_ms()
  redis.call('HINCRBY', rec, 'n', 1)
  redis.call('HSETNX', rec, 'since', now)
  redis.call('ZADD', pending, 'NX', now, pk)
  redis.call('ZADD', since, 'NX', now, pk)
  redis.call('SET', flag, '1')
end

-- Call `call` with the items of `list` as arguments, in slices (Lua's stack is bounded).
local function each_slice(list, call)
  for i = 1, #list, 2000 do call(unpack(list, i, math.min(i + 1999, #list))) end
end

