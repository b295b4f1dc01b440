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
-- Under a write's fence (see bump.lua) no lease is taken: the warm store is refused.
local fenced = false
if string.find(generations, '~', 1, true) then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  for ends in string.gmatch(generations, '~%d+~(%d+)') do
    if tonumber(ends) > now then fenced = true end
  end
end
for i = n_gens + 1, #KEYS do
  local held = not fenced and redis.call('GET', KEYS[i])
  if not fenced and not (held and string.sub(held, 1, 1) == '!') then
    redis.call('SET', KEYS[i], ARGV[4] .. '|' .. generations, 'PX', ARGV[3])
  end
end
return generations
