-- Store loaded values, each only while its lease is still held and its
-- generations are unchanged (the memcache lease check). A refused store gives up
-- its lease at once, so readers never wait for a value that will not come.
-- KEYS: generation keys. ARGV: generations read, then (key, token, data, ttl_ms) per
-- entry (ttl 0: no expiry); an empty token stores without a lease. Returns how many entries were stored.
local gens = {}
local changed = false
if #KEYS > 0 then
  local values = redis.call('MGET', unpack(KEYS))
  for i, value in ipairs(values) do
    if not value then changed = true; break end
    gens[i] = value
  end
end
changed = changed or table.concat(gens, '.') ~= ARGV[1]
local stored = 0
for i = 2, #ARGV, 4 do
  local lease = ARGV[i] .. '!lease'
  local token = ARGV[i + 1]
  local held = token ~= '' and redis.call('GET', lease) == token .. '|' .. ARGV[1]
  if changed then
    if held then redis.call('DEL', lease) end
  elseif token == '' or held then
    if ARGV[i + 3] == '0' then
      redis.call('SET', ARGV[i], ARGV[1] .. '|' .. ARGV[i + 2])
    else
      redis.call('SET', ARGV[i], ARGV[1] .. '|' .. ARGV[i + 2], 'PX', ARGV[i + 3])
    end
    if held then redis.call('DEL', lease) end
    stored = stored + 1
  end
end
return stored
