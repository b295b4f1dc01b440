-- Buffer one deferred write. The row's cached entry stays: it holds the database's
-- row, and reads lay the buffered writes over it.
-- KEYS: none (see the NOTE). ARGV: buffer root ("<prefix>:wb:<label>"),
--       "cap,batch_size,trigger_ms", pk, then (kind, attname, value) triples: kind 'v'
--       sets a value, 'i' adds to it.
-- Returns {trigger, pending}: trigger is 1 when a flush should start now, -1 when the
-- buffer is full (nothing was written); pending is -1 when the row was pending already.
-- NOTE: the buffer keys are built here from the root, to keep each call's arguments
-- (and so its cost) small.
local root, pk = ARGV[1], ARGV[3]
local cap, batch, trigger_ms = string.match(ARGV[2], '^(%d+),(%d+),(%d+)$')
cap, batch = tonumber(cap), tonumber(batch)
local rec, pending = root .. ':r:' .. pk, root .. ':pending'
local is_new = redis.call('EXISTS', rec) == 0
local count = -1
if is_new then
  count = redis.call('ZCARD', pending)
  if cap > 0 and count >= cap then return {-1, count} end
end
for i = 4, #ARGV, 3 do
  local kind, name = ARGV[i], ARGV[i + 1]
  if kind == 'v' then
    redis.call('HSET', rec, 'v:' .. name, ARGV[i + 2])
    redis.call('HDEL', rec, 'i:' .. name)
  else
    redis.call('HINCRBY', rec, 'i:' .. name, ARGV[i + 2])
  end
end
redis.call('HINCRBY', rec, 'n', 1)
if is_new then
  local t = redis.call('TIME')
  local now = t[1] * 1000 + math.floor(t[2] / 1000)
  redis.call('HSET', rec, 'since', now)
  redis.call('ZADD', pending, now, pk)
  -- NX: a batch may hold older writes of the row.
  redis.call('ZADD', root .. ':since', 'NX', now, pk)
  -- Read with the row's cached entry: the row has deferred writes to lay over it.
  redis.call('SET', root .. ':f:' .. pk, '1')
  local prefix, label = string.match(root, '^(.*):wb:(.*)$')
  redis.call('SADD', prefix .. ':wb:models', label)
  count = count + 1
end
-- Only a new row can take the count past the batch size.
local trigger = 0
if count >= batch and redis.call('SET', root .. ':trigger', '1', 'NX', 'PX', trigger_ms) then
  trigger = 1
end
return {trigger, count}
