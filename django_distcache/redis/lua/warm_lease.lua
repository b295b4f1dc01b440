-- Take the lease of entries about to be refreshed (even if they are cached), so an
-- invalidation that lands while their rows are read makes the store fail.
-- KEYS: ARGV[1] generation keys, then the leases. ARGV: number of generation keys,
-- the generations ('': read them from KEYS; on a Redis Cluster they are read first),
-- lease_ms, token. Returns the current generations (what store.lua checks).
local n_gens = tonumber(ARGV[1])
local generations = ARGV[2]
if n_gens > 0 then
  local gens = {}
  local values = redis.call('MGET', unpack(KEYS, 1, n_gens))
  for i, value in ipairs(values) do
    if not value then
      local t = redis.call('TIME')
      value = t[1] .. string.format('%06d', tonumber(t[2]))
      if not redis.call('SET', KEYS[i], value, 'NX') then
        value = redis.call('GET', KEYS[i])
      end
    end
    gens[i] = value
  end
  generations = table.concat(gens, '.')
end
for i = n_gens + 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[4] .. '|' .. generations, 'PX', ARGV[3])
end
return generations
