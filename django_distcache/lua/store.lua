-- Store loaded values, each only while its lease is still held and its
-- generations are unchanged (the memcache lease check).
-- KEYS: generation keys. ARGV: generations read, then (key, token, data, ttl_ms) per
-- entry; an empty token stores without a lease. Returns how many entries were stored.
local gens = {}
if #KEYS > 0 then
  local values = redis.call('MGET', unpack(KEYS))
  for i, value in ipairs(values) do
    if not value then return 0 end
    gens[i] = value
  end
end
if table.concat(gens, '.') ~= ARGV[1] then return 0 end
local stored = 0
for i = 2, #ARGV, 4 do
  local lease = ARGV[i] .. ':lease'
  local token = ARGV[i + 1]
  if token == '' or redis.call('GET', lease) == token then
    redis.call('SET', ARGV[i], ARGV[1] .. '|' .. ARGV[i + 2], 'PX', ARGV[i + 3])
    if token ~= '' then redis.call('DEL', lease) end
    stored = stored + 1
  end
end
return stored
