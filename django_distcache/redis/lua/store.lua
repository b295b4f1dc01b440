-- Store loaded values, each only while its lease is still held and its
-- generations are unchanged (the memcache lease check). A refused store gives up
-- its lease at once, so readers never wait for a value that will not come.
-- Entries are written as "<generations>|<expires>:<delta>:<limit>|<data>" (see
-- read.lua), their times on Redis's clock; one that expires is kept stale_ms longer
-- for stale-while-revalidate.
-- KEYS: generation keys. ARGV: generations read, delta_ms (the load's time), stale_ms,
-- max_age_ms (sliding entries' limit, 0: not sliding), then (key, token, data, ttl_ms)
-- per entry (ttl 0: no expiry); an empty token stores without a lease.
-- Returns how many entries were stored.
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
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local delta = ARGV[2]
local stale_ms = tonumber(ARGV[3])
local max_age_ms = tonumber(ARGV[4])
local limit = '0'
if max_age_ms > 0 then limit = string.format('%.0f', now + max_age_ms) end
local stored = 0
for i = 5, #ARGV, 4 do
  local lease = ARGV[i] .. '!lease'
  local token = ARGV[i + 1]
  local held = token ~= '' and redis.call('GET', lease) == token .. '|' .. ARGV[1]
  if changed then
    if held then redis.call('DEL', lease) end
  elseif token == '' or held then
    local ttl = tonumber(ARGV[i + 3])
    if ttl == 0 then
      redis.call('SET', ARGV[i], ARGV[1] .. '|0000000000000:' .. delta .. ':0|' .. ARGV[i + 2])
    else
      if max_age_ms > 0 then ttl = math.min(ttl, max_age_ms) end
      local meta = string.format('%013.0f', now + ttl) .. ':' .. delta .. ':' .. limit
      redis.call('SET', ARGV[i], ARGV[1] .. '|' .. meta .. '|' .. ARGV[i + 2], 'PX', ttl + stale_ms)
    end
    if held then redis.call('DEL', lease) end
    stored = stored + 1
  end
end
return stored
