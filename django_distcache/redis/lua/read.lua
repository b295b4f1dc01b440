-- Read entries under their current generations and take a lease on each miss.
-- An entry is stored as "<generations>|<expires>:<delta>:<limit>|<data>": it is current
-- only while the generations it was loaded under are still the current ones. <expires>
-- is when it goes stale (Redis ms, 13 digits so it can be rewritten in place; all
-- zeros: never), <delta> how long its load took (ms, for early refresh, decided by the
-- reader), <limit> the latest a sliding entry may be kept to (0: not sliding). A lease
-- is stored as "<token>|<generations>": it belongs to the generations it was taken
-- under, so a lease taken before a generation moved on is taken over at once (its
-- holder's store will be refused anyway) instead of making readers wait for it.
-- KEYS: ARGV[1] generation keys, then the entry keys, then their leases (same order).
-- ARGV: number of generation keys, the generations ('': read them from KEYS; on a Redis
-- Cluster they live in other slots and are read first), lease_ms, token, stale_ms
-- (grace after expiry in which the entry is still served), slide_ms (sliding timeout, 0: off).
-- Returns {generations, r1, r2, ...}: ri is the stored entry (a hit), {entry} (a stale
-- hit whose lease was taken here: refresh it), 1 (miss, lease taken, or already ours)
-- or 0 (miss, another process holds a current lease). Loaded after gen_common.lua.
local n_gens = tonumber(ARGV[1])
local generations = ARGV[2]
if n_gens > 0 then
  generations = table.concat(current_generations(1, n_gens), '.')
end
local n = (#KEYS - n_gens) / 2
local current = generations .. '|'
local lease_ms = tonumber(ARGV[3])
local mine = ARGV[4] .. '|' .. generations
local stale_ms = tonumber(ARGV[5])
local slide_ms = tonumber(ARGV[6])
-- NOTE: the clock is read (and an entry's times parsed) only for namespaces that serve
-- stale entries or slide; any other hit is the GET and one comparison.
local timed = stale_ms > 0 or slide_ms > 0
local now

-- Take the lease `name` unless another process holds a current one.
local function lease(name)
  local held = redis.call('GET', name)
  if held == mine then return 1 end
  local bar = held and string.find(held, '|', 1, true)
  if bar and string.sub(held, bar + 1) == generations then return 0 end
  redis.call('SET', name, mine, 'PX', lease_ms)
  return 1
end

local result = {generations}
for i = n_gens + 1, n_gens + n do
  local key = KEYS[i]
  local name = KEYS[i + n]
  local value = redis.call('GET', key)
  local answer
  if value and string.sub(value, 1, #current) == current then
    answer = value
    local expires = timed and tonumber(string.sub(value, #current + 1, #current + 13))
    if expires and expires > 0 then
      if not now then
        local t = redis.call('TIME')
        now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      end
      if now >= expires + stale_ms then
        answer = nil -- past its grace period: a miss
      elseif now >= expires then
        -- Stale within its grace: served at once; one reader refreshes it.
        if lease_ms > 0 and lease(name) == 1 then answer = {value} end
      elseif slide_ms > 0 then
        local limit = tonumber(string.match(value, '^%d+:%d+:(%d+)|', #current + 1))
        local slid = math.min(now + slide_ms, limit)
        -- NOTE: a write per slide: at most ten per timeout and key, and one at the limit.
        if limit > 0 and ((slid - expires) * 10 >= slide_ms or (slid == limit and slid > expires)) then
          redis.call('SETRANGE', key, #current, string.format('%013.0f', slid))
          redis.call('PEXPIRE', key, slid - now + stale_ms)
        end
      end
    end
  end
  if answer == nil then
    if lease_ms <= 0 then
      answer = 0
    else
      answer = lease(name)
    end
  end
  result[#result + 1] = answer
end
return result
