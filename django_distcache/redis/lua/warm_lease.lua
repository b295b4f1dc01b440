-- Take the lease of entries about to be refreshed (even if they are cached), so an
-- invalidation that lands while their rows are read makes the store fail.
-- KEYS: generation keys. ARGV: lease_ms, token, entry keys... Returns the current
-- generations (what store.lua checks).
local gens = {}
if #KEYS > 0 then
  local values = redis.call('MGET', unpack(KEYS))
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
end
local generations = table.concat(gens, '.')
for i = 3, #ARGV do
  redis.call('SET', ARGV[i] .. '!lease', ARGV[2] .. '|' .. generations, 'PX', ARGV[1])
end
return generations
