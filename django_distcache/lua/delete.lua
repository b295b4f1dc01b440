-- Delete entries (and any lease on them) under their current generations, so a
-- loader that read before the write cannot store what it read.
-- KEYS: generation keys. ARGV: base keys. Returns how many values existed.
local gens = {}
if #KEYS > 0 then
  local values = redis.call('MGET', unpack(KEYS))
  for i, value in ipairs(values) do
    -- No generation yet: nothing was stored under it and no lease taken.
    if not value then return 0 end
    gens[i] = value
  end
end
local suffix = table.concat(gens, '.')
local deleted = 0
for i = 1, #ARGV do
  local key = ARGV[i] .. '@' .. suffix
  deleted = deleted + redis.call('DEL', key)
  redis.call('DEL', key .. ':lease')
end
return deleted
