-- Take the lease of entries about to be refreshed (even if they are cached), so an
-- invalidation that lands while their rows are read makes the store fail.
-- KEYS: ARGV[1] generation keys, then the leases. ARGV: number of generation keys,
-- the generations ('': read them from KEYS; on a Redis Cluster they are read first),
-- lease_ms, token. Returns the current generations (what store.lua checks).
-- Loaded after gen_common.lua.
local n_gens = tonumber(ARGV[1])
local generations = ARGV[2]
if n_gens > 0 then
  generations = table.concat(current_generations(1, n_gens), '.')
end
for i = n_gens + 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[4] .. '|' .. generations, 'PX', ARGV[3])
end
return generations
