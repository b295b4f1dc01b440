-- Record a round that deleted acknowledged outbox rows from database ARGV[1]: the
-- floor goes up to ARGV[2] and the rows' acknowledgements go. Only if every one of
-- them is still acknowledged here: a Redis that went back in time meanwhile keeps
-- its lower floor, and the next check treats it as empty.
-- KEYS: floor hash, acknowledgement set. ARGV: alias, rounds, members...
for i = 3, #ARGV do
  if redis.call('SISMEMBER', KEYS[2], ARGV[i]) == 0 then return 0 end
end
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) > current then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
for i = 3, #ARGV, 2000 do
  redis.call('SREM', KEYS[2], unpack(ARGV, i, math.min(i + 1999, #ARGV)))
end
return 1
