-- Give up a lease we hold (the loader failed), so a waiter may load at once.
-- ARGV: suffix, then (base, token) pairs.
for i = 2, #ARGV, 2 do
  local lease = ARGV[i] .. '@' .. ARGV[1] .. ':lease'
  if redis.call('GET', lease) == ARGV[i + 1] then redis.call('DEL', lease) end
end
return 1
