-- Keep alive the leases of loads still running, so a loader slower than the lease
-- timeout is not replaced by a second loader while it is alive.
-- ARGV: lease_ms, then (entry key, token) pairs. Returns how many were extended.
local extended = 0
for i = 2, #ARGV, 2 do
  local lease = ARGV[i] .. '!lease'
  local held = redis.call('GET', lease)
  local mine = ARGV[i + 1] .. '|'
  if held and string.sub(held, 1, #mine) == mine then
    redis.call('PEXPIRE', lease, ARGV[1])
    extended = extended + 1
  end
end
return extended
