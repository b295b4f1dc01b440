-- Buffer one deferred write and drop the row's cached entry, atomically.
-- KEYS: pending zset, record hash, models set, trigger key, generation keys...
-- ARGV: now_ms, pk, label, cap, batch_size, trigger_ms, entry base ('' for none),
--       then (kind, attname, value) triples: kind 'v' sets a value, 'i' adds to it.
-- Returns {trigger, pending}: trigger is 1 when a flush should start now, -1 when the
-- buffer is full (nothing was written).
local pending, rec = KEYS[1], KEYS[2]
local now, pk = ARGV[1], ARGV[2]
local cap, batch = tonumber(ARGV[4]), tonumber(ARGV[5])
local is_new = redis.call('EXISTS', rec) == 0
local count = redis.call('ZCARD', pending)
if is_new and cap > 0 and count >= cap then return {-1, count} end
for i = 8, #ARGV, 3 do
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
  redis.call('HSET', rec, 'since', now)
  redis.call('ZADD', pending, now, pk)
  count = count + 1
end
redis.call('SADD', KEYS[3], ARGV[3])
if ARGV[7] ~= '' and #KEYS > 4 then
  local gens = redis.call('MGET', unpack(KEYS, 5))
  local complete = true
  for i = 1, #gens do if not gens[i] then complete = false end end
  if complete then
    local key = ARGV[7] .. '@' .. table.concat(gens, '.')
    redis.call('DEL', key, key .. ':lease')
  end
end
local trigger = 0
if count >= batch and redis.call('SET', KEYS[4], '1', 'NX', 'PX', ARGV[6]) then trigger = 1 end
return {trigger, count}
