-- Read generation counters, starting each missing one at the clock (so it never repeats
-- an older one). On a Redis Cluster, where generations live in their own slots, this
-- runs once per slot before the entries are read (read.lua does it itself on one Redis).
-- KEYS: generation keys of one slot. Returns their values.
local values = redis.call('MGET', unpack(KEYS))
for i = 1, #KEYS do
  if not values[i] then
    local t = redis.call('TIME')
    local value = t[1] .. string.format('%06d', tonumber(t[2]))
    if not redis.call('SET', KEYS[i], value, 'NX') then
      value = redis.call('GET', KEYS[i])
    end
    values[i] = value
  end
end
return values
