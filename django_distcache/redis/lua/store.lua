-- Store loaded values, each only while its lease is still held and its
-- generations are unchanged (the memcache lease check). A refused store gives up
-- its lease at once, so readers never wait for a value that will not come.
-- Entries are written as "<generations>|<expires>:<delta>:<limit>|<data>" (see
-- read.lua), their times on Redis's clock; one that expires is kept stale_ms longer
-- for stale-while-revalidate.
-- KEYS: ARGV[1] generation keys, then the entry keys, then their leases (same order).
-- ARGV: number of generation keys (0 on a Redis Cluster, where they live in other slots:
-- an entry stored under generations that moved on is never read as current), generations
-- read, delta_ms (the load's time), stale_ms, max_age_ms (sliding entries' limit, 0: not
-- sliding), then (token, data, ttl_ms) per entry (ttl 0: no expiry); an empty token
-- stores without a lease.
-- Returns how many entries were stored.
local n_gens = tonumber(ARGV[1])
local gens = {}
local changed = false
if n_gens > 0 then
  local values = redis.call('MGET', unpack(KEYS, 1, n_gens))
  for i, value in ipairs(values) do
    if not value then changed = true; break end
    gens[i] = value
  end
end
changed = n_gens > 0 and (changed or table.concat(gens, '.') ~= ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local delta = ARGV[3]
local stale_ms = tonumber(ARGV[4])
local max_age_ms = tonumber(ARGV[5])
local under = ARGV[2]
local limit = '0'
if max_age_ms > 0 then limit = string.format('%.0f', now + max_age_ms) end
local stored = 0
local n = (#KEYS - n_gens) / 2
for j = 1, n do
  local key = KEYS[n_gens + j]
  local lease = KEYS[n_gens + n + j]
  local i = 6 + 3 * (j - 1)
  local token = ARGV[i]
  local held = token ~= '' and redis.call('GET', lease) == token .. '|' .. under
  if changed then
    if held then redis.call('DEL', lease) end
  elseif token == '' or held then
    local ttl = tonumber(ARGV[i + 2])
    if ttl == 0 then
      redis.call('SET', key, under .. '|0000000000000:' .. delta .. ':0|' .. ARGV[i + 1])
    else
      if max_age_ms > 0 then ttl = math.min(ttl, max_age_ms) end
      local meta = string.format('%013.0f', now + ttl) .. ':' .. delta .. ':' .. limit
      redis.call('SET', key, under .. '|' .. meta .. '|' .. ARGV[i + 1], 'PX', ttl + stale_ms)
    end
    if held then redis.call('DEL', lease) end
    stored = stored + 1
  end
end
return stored
