-- Keep alive the leases of loads still running, so a loader slower than the lease
-- timeout is not replaced by a second loader while it is alive.
-- KEYS: leases. ARGV: lease_ms, then the token of each lease. Returns how many were extended.
local extended = 0
for i = 1, #KEYS do
  local held = redis.call('GET', KEYS[i])
  local mine = ARGV[i + 1] .. '|'
  if held and string.sub(held, 1, #mine) == mine then
    redis.call('PEXPIRE', KEYS[i], ARGV[1])
    extended = extended + 1
  end
end
return extended
