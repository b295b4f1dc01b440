-- Shared by the scripts that read generations (read, warm_lease, generations): put
-- before each of them when it is loaded (redis/client.py). It reads only the keys its
-- caller names, all in that script's KEYS (a Redis Cluster routes by them).

-- The values of the generation keys KEYS[first..last], each missing one started at the
-- clock (so a generation never repeats an older one).
local function current_generations(first, last)
  local values = redis.call('MGET', unpack(KEYS, first, last))
  for i = 1, last - first + 1 do
    if not values[i] then
      local key = KEYS[first + i - 1]
      local t = redis.call('TIME')
      local value = t[1] .. string.format('%06d', tonumber(t[2]))
      if not redis.call('SET', key, value, 'NX') then
        value = redis.call('GET', key)
      end
      values[i] = value
    end
  end
  return values
end

