-- Buffer one deferred write. The row's cached entry stays: it holds the database's
-- row, and reads lay the buffered writes over it.
-- KEYS: pending zset, since zset, trigger, the row's record, the row's flag.
-- ARGV: "cap,batch_size,trigger_ms", pk, then (kind, attname, value) triples: kind
--       'v' sets a value, 'i' adds to it.
-- Returns {trigger, pending}: trigger is 1 when a flush should start now, -1 when the
-- buffer is full (nothing was written); pending is -1 when the row was pending already.
local pending, since, trigger_key, rec, flag = unpack(KEYS, 1, 5)
local pk = ARGV[2]
local cap, batch, trigger_ms = string.match(ARGV[1], '^(%d+),(%d+),(%d+)$')
cap, batch = tonumber(cap), tonumber(batch)
local is_new = redis.call('EXISTS', rec) == 0
local count = -1
if is_new then
  count = redis.call('ZCARD', pending)
  if cap > 0 and count >= cap then return {-1, count} end
end
for i = 3, #ARGV, 3 do
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
  local now = now_ms()
  redis.call('HSET', rec, 'since', now)
  redis.call('ZADD', pending, now, pk)
  -- NX: a batch may hold older writes of the row.
  redis.call('ZADD', since, 'NX', now, pk)
  -- Read with the row's cached entry: the row has deferred writes to lay over it.
  redis.call('SET', flag, '1')
  count = count + 1
end
-- Only a new row can take the count past the batch size.
local trigger = 0
if count >= batch and redis.call('SET', trigger_key, '1', 'NX', 'PX', trigger_ms) then
  trigger = 1
end
return {trigger, count}
