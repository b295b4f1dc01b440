-- Give up leases we hold (the loader failed or stores nothing), so a waiter may
-- load at once. ARGV: (entry key, token) pairs.
for i = 1, #ARGV, 2 do
  local lease = ARGV[i] .. '!lease'
  local held = redis.call('GET', lease)
  local mine = ARGV[i + 1] .. '|'
  if held and string.sub(held, 1, #mine) == mine then redis.call('DEL', lease) end
end
return 1
