-- Read entries under their current generations and take a lease on each miss.
-- An entry is stored as "<generations>|<expires>:<delta>:<limit>|<data>": it is current
-- only while the generations it was loaded under are still the current ones. <expires>
-- is when it goes stale (Redis ms, 13 digits so it can be rewritten in place; 0:
-- never), <delta> how long its load took (ms), <limit> the latest a sliding entry may
-- be kept to (0: not sliding). A lease is stored as "<token>|<generations>": it
-- belongs to the generations it was taken under, so a lease taken before a generation
-- moved on is taken over at once (its holder's store will be refused anyway) instead
-- of making readers wait for it.
-- KEYS: generation keys. ARGV: lease_ms, token, early (XFetch: -beta * ln(random), 0:
-- off), stale_ms (grace after expiry in which the entry is still served), slide_ms
-- (sliding timeout, 0: off), entry keys...
-- Returns {generations, r1, r2, ...}: ri is the stored entry (a hit), {entry} (a hit
-- whose lease was taken here: refresh it, early or stale), 1 (miss, lease taken, or
-- already ours) or 0 (miss, another process holds a current lease).
local gens = {}
if #KEYS > 0 then
  local values = redis.call('MGET', unpack(KEYS))
  for i, value in ipairs(values) do
    if not value then
      -- A missing generation starts at the clock, so it never repeats an older one.
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
local current = generations .. '|'
local lease_ms = tonumber(ARGV[1])
local mine = ARGV[2] .. '|' .. generations
local early = tonumber(ARGV[3])
local stale_ms = tonumber(ARGV[4])
local slide_ms = tonumber(ARGV[5])
local now

-- Take the lease of entry `key` unless another process holds a current one.
local function lease(key)
  local name = key .. '!lease'
  local held = redis.call('GET', name)
  local bar = held and string.find(held, '|', 1, true)
  if held == mine then return 1 end
  if bar and string.sub(held, bar + 1) == generations then return 0 end
  redis.call('SET', name, mine, 'PX', lease_ms)
  return 1
end

local result = {generations}
for i = 6, #ARGV do
  local value = redis.call('GET', ARGV[i])
  local answer
  if value and string.sub(value, 1, #current) == current then
    local expires, delta, limit = string.match(value, '^(%d+):(%d+):(%d+)|', #current + 1)
    expires = tonumber(expires)
    if expires == 0 then
      answer = value
    elseif expires then
      if not now then
        local t = redis.call('TIME')
        now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      end
      if now < expires then
        answer = value
        limit = tonumber(limit)
        if slide_ms > 0 and limit > 0 then
          local slid = math.min(now + slide_ms, limit)
          -- NOTE: a write per slide: at most ten per timeout and key, and one at the limit.
          if (slid - expires) * 10 >= slide_ms or (slid == limit and slid > expires) then
            redis.call('SETRANGE', ARGV[i], #current, string.format('%013.0f', slid))
            redis.call('PEXPIRE', ARGV[i], slid - now + stale_ms)
            expires = slid
          end
        end
        -- XFetch: refresh early, with a chance that grows as expiry nears.
        if early > 0 and lease_ms > 0 and now + tonumber(delta) * early >= expires then
          if lease(ARGV[i]) == 1 then answer = {value} end
        end
      elseif now < expires + stale_ms then
        -- Stale within its grace: served at once; one reader refreshes it.
        answer = value
        if lease_ms > 0 and lease(ARGV[i]) == 1 then answer = {value} end
      end
    end
  end
  if answer == nil then
    if lease_ms <= 0 then
      answer = 0
    else
      answer = lease(ARGV[i])
    end
  end
  result[#result + 1] = answer
end
return result
