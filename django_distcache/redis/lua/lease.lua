-- Take the lease of entries a reader will refresh early (XFetch: it read them as hits
-- and drew an early refresh), unless another process holds a current lease on them.
-- KEYS: ARGV[1] generation keys, then the leases. ARGV: number of generation keys (0 on
-- a Redis Cluster: the generations are taken as read), lease_ms, token, generations read.
-- Returns 1 (lease taken, or already ours) or 0 per lease; all 0 if the generations
-- moved on since the read (the entries are no longer current: nothing to refresh).
local n_gens = tonumber(ARGV[1])
local generations = ARGV[4]
if n_gens > 0 then
  local gens = redis.call('MGET', unpack(KEYS, 1, n_gens))
  local complete = true
  for i = 1, n_gens do
    if not gens[i] then complete = false end
  end
  generations = complete and table.concat(gens, '.')
end
local mine = ARGV[3] .. '|' .. ARGV[4]
local result = {}
for i = n_gens + 1, #KEYS do
  local answer = 0
  if generations == ARGV[4] then
    local name = KEYS[i]
    local held = redis.call('GET', name)
    local bar = held and string.find(held, '|', 1, true)
    if held == mine then
      answer = 1
    elseif not (bar and string.sub(held, bar + 1) == generations) then
      redis.call('SET', name, mine, 'PX', ARGV[2])
      answer = 1
    end
  end
  result[#result + 1] = answer
end
return result
