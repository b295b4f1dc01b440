-- Read entries under their current generations and take a lease on each miss.
-- An entry is stored as "<generations>|<data>": it is current only while the
-- generations it was loaded under are still the current ones.
-- KEYS: generation keys. ARGV: lease_ms, token, entry keys...
-- Returns {generations, r1, r2, ...}: ri is the stored entry, 1 (miss, lease taken)
-- or 0 (miss, someone else holds the lease).
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
local current = table.concat(gens, '.') .. '|'
local lease_ms = tonumber(ARGV[1])
local result = {table.concat(gens, '.')}
for i = 3, #ARGV do
  local value = redis.call('GET', ARGV[i])
  if value and string.sub(value, 1, #current) == current then
    result[#result + 1] = value
  elseif lease_ms > 0 and redis.call('SET', ARGV[i] .. ':lease', ARGV[2], 'NX', 'PX', lease_ms) then
    result[#result + 1] = 1
  else
    result[#result + 1] = 0
  end
end
return result
