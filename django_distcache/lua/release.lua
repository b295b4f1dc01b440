-- Give up leases we hold (the loader failed), so a waiter may load at once.
-- ARGV: (entry key, token) pairs.
for i = 1, #ARGV, 2 do
  local lease = ARGV[i] .. ':lease'
  if redis.call('GET', lease) == ARGV[i + 1] then redis.call('DEL', lease) end
end
return 1
