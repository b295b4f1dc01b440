-- Apply one invalidation: delete entries with their leases, bump generation counters
-- (a missing one starts at the clock so that it never repeats a generation used
-- before it was lost) and acknowledge the outbox row, in one call.
-- KEYS: generations, then entries, then their leases, then the near cache's sequence
-- key when ARGV[4] is not '', then the outbox's acknowledgement set when ARGV[3] is not ''.
-- ARGV: number of generations, number of entries, outbox row to acknowledge ('' for none),
-- the near cache's channel ('' for none), the mode ('' or absent: apply; 'fence': before
-- a write's statement; 'release': after it) and the fence's lifetime in ms.
-- The invalidation is published on that channel as "<sequence>\n<generations>\n<entries>"
-- (keys separated by spaces; no key holds whitespace), so every process's near cache
-- drops what Redis dropped; the sequence is "-" when Redis refused to count it.
-- A Redis that refuses writes (maxmemory with noeviction) still allows DEL: a
-- generation it will not bump is deleted, and a missing generation is a new one.
--
-- A fence is what lets a write made outside a transaction overlap its invalidation
-- with its statement: 'fence' deletes the entries and bumps the generations before the
-- statement commits, and marks both fenced until 'release' (after the commit) bumps
-- them again. While fenced, no reader takes a lease or stores under them (read.lua,
-- lease.lua, warm_lease.lua, store.lua), so nothing read before the commit is kept.
-- A fenced generation is "<counter>~<writers>~<until ms>", a fenced lease "!<writers>"
-- (with a TTL): writers that overlap are counted, and a fence whose writer died ends
-- at its time. Nothing is published or acknowledged when fencing.
-- Returns {generations deleted instead of bumped, 1 if acknowledged else 0}; when
-- fencing, {generations deleted, 0, 1 if everything was fenced else 0}.
local n_gens, n_entries, ack, channel = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local mode, fence_ms = ARGV[5] or '', tonumber(ARGV[6] or '0')
local t = redis.call('TIME')
local start = t[1] .. string.format('%06d', tonumber(t[2]))
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local fenced_all = 1

-- The lease key of entry i: a fence is taken (counted) or given back, else deleted.
local function lease_of(name)
  if mode == 'fence' then
    local held = redis.call('GET', name)
    local writers = 1
    if held and string.sub(held, 1, 1) == '!' then writers = (tonumber(string.sub(held, 2)) or 0) + 1 end
    local done = redis.pcall('SET', name, '!' .. writers, 'PX', fence_ms)
    if type(done) == 'table' and done.err then
      redis.call('DEL', name)
      fenced_all = 0
    end
  elseif mode == 'release' then
    local held = redis.call('GET', name)
    local writers = held and string.sub(held, 1, 1) == '!' and tonumber(string.sub(held, 2)) or 0
    if writers > 1 then
      local done = redis.pcall('SET', name, '!' .. (writers - 1), 'KEEPTTL')
      if type(done) == 'table' and done.err then redis.call('DEL', name) end
    else
      redis.call('DEL', name)
    end
  else
    redis.call('DEL', name)
  end
end

if n_entries > 0 then
  local first, last = n_gens + 1, n_gens + n_entries
  for i = first, last, 2000 do
    redis.call('DEL', unpack(KEYS, i, math.min(i + 1999, last)))
  end
  for i = last + 1, last + n_entries do lease_of(KEYS[i]) end
end

-- The next value of a generation: its counter moves on, and its fence is taken
-- (fence), given back (release) or kept as it is.
local function next_value(value)
  if not value then
    if mode == 'fence' then return start .. '~1~' .. (now + fence_ms) end
    return start
  end
  local counter, writers, ends = string.match(value, '^(%d+)~(%d+)~(%d+)$')
  if not counter then
    counter, writers, ends = value, 0, 0
  else
    writers, ends = tonumber(writers), tonumber(ends)
    if ends <= now then writers = 0 end -- a fence whose writer died has ended
  end
  if mode == 'fence' then
    writers = writers + 1
    ends = math.max(ends, now + fence_ms)
  elseif mode == 'release' and writers > 0 then
    writers = writers - 1
  end
  local moved = string.format('%.0f', tonumber(counter) + 1)
  if writers > 0 then return moved .. '~' .. writers .. '~' .. string.format('%.0f', ends) end
  return moved
end

local deleted = 0
for i = 1, n_gens do
  local done = redis.pcall('SET', KEYS[i], next_value(redis.call('GET', KEYS[i])))
  if type(done) == 'table' and done.err then
    redis.call('DEL', KEYS[i])
    deleted = deleted + 1
    fenced_all = 0
  end
end
if mode == 'fence' then return {deleted, 0, fenced_all} end
if channel and channel ~= '' then
  local n = n_gens + 2 * n_entries
  local seq = redis.pcall('INCR', KEYS[n + 1])
  if type(seq) == 'table' and seq.err then seq = '-' end
  local names = table.concat(KEYS, ' ', 1, n_gens)
  local entries = table.concat(KEYS, ' ', n_gens + 1, n_gens + n_entries)
  redis.call('PUBLISH', channel, seq .. '\n' .. names .. '\n' .. entries)
end
local acked = 0
if ack ~= '' then
  local done = redis.pcall('SADD', KEYS[#KEYS], ack)
  if not (type(done) == 'table' and done.err) then acked = 1 end
end
return {deleted, acked}
