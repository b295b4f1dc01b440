-- Give up leases we hold (the loader failed or stores nothing), so a waiter may
-- load at once. KEYS: leases. ARGV: the token of each lease.
for i = 1, #KEYS do
  local held = redis.call('GET', KEYS[i])
  local mine = ARGV[i] .. '|'
  if held and string.sub(held, 1, #mine) == mine then redis.call('DEL', KEYS[i]) end
end
return 1
