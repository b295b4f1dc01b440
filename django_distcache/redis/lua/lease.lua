-- Take the lease of entries a reader will refresh early (XFetch: it read them as hits
-- and drew an early refresh), unless another process holds a current lease on them.
-- KEYS: generation keys. ARGV: lease_ms, token, generations read, entry keys...
-- Returns 1 (lease taken, or already ours) or 0 per entry; all 0 if the generations
-- moved on since the read (the entries are no longer current: nothing to refresh).
local gens = {}
if #KEYS > 0 then gens = redis.call('MGET', unpack(KEYS)) end
local complete = true
for i = 1, #KEYS do
  if not gens[i] then complete = false end
end
local generations = complete and table.concat(gens, '.')
local mine = ARGV[2] .. '|' .. ARGV[3]
local result = {}
for i = 4, #ARGV do
  local answer = 0
  if generations == ARGV[3] then
    local name = ARGV[i] .. '!lease'
    local held = redis.call('GET', name)
    local bar = held and string.find(held, '|', 1, true)
    if held == mine then
      answer = 1
    elseif not (bar and string.sub(held, bar + 1) == generations) then
      redis.call('SET', name, mine, 'PX', ARGV[1])
      answer = 1
    end
  end
  result[#result + 1] = answer
end
return result
