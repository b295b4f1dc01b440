-- Bump generation counters; a missing one starts at the clock so that it never
-- repeats a generation used before it was lost.
local t = redis.call('TIME')
local start = t[1] .. string.format('%06d', tonumber(t[2]))
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('INCR', KEYS[i])
  else
    redis.call('SET', KEYS[i], start)
  end
end
return #KEYS
