-- Read entries under their current generations and take a lease on each miss.
-- An entry is stored as "<generations>|<data>": it is current only while the
-- generations it was loaded under are still the current ones. A lease is stored as
-- "<token>|<generations>": it belongs to the generations it was taken under, so a
-- lease taken before a generation moved on is taken over at once (its holder's
-- store will be refused anyway) instead of making readers wait for it.
-- KEYS: generation keys. ARGV: lease_ms, token, entry keys...
-- Returns {generations, r1, r2, ...}: ri is the stored entry, 1 (miss, lease taken,
-- or already ours) or 0 (miss, another process holds a current lease).
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
local result = {generations}
for i = 3, #ARGV do
  local value = redis.call('GET', ARGV[i])
  if value and string.sub(value, 1, #current) == current then
    result[#result + 1] = value
  elseif lease_ms <= 0 then
    result[#result + 1] = 0
  else
    local lease = ARGV[i] .. '!lease'
    local held = redis.call('GET', lease)
    local bar = held and string.find(held, '|', 1, true)
    if held == mine then
      result[#result + 1] = 1
    elseif bar and string.sub(held, bar + 1) == generations then
      result[#result + 1] = 0
    else
      redis.call('SET', lease, mine, 'PX', lease_ms)
      result[#result + 1] = 1
    end
  end
end
return result
