-- Apply one invalidation: delete entries with their leases, bump generation counters
-- (a missing one starts at the clock so that it never repeats a generation used
-- before it was lost) and acknowledge the outbox row, in one call.
-- KEYS: generations, then entries, then their leases, then the near cache's sequence
-- key when ARGV[4] is not '', then the outbox's acknowledgement set when ARGV[3] is not ''.
-- ARGV: number of generations, number of entries, outbox row to acknowledge ('' for none),
-- the near cache's channel ('' for none).
-- The invalidation is published on that channel as "<sequence>\n<generations>\n<entries>"
-- (keys separated by spaces; no key holds whitespace), so every process's near cache
-- drops what Redis dropped; the sequence is "-" when Redis refused to count it.
-- A Redis that refuses writes (maxmemory with noeviction) still allows DEL: a
-- generation it will not bump is deleted, and a missing generation is a new one.
-- Returns {generations deleted instead of bumped, 1 if acknowledged else 0}.
local n_gens, n_entries, ack, channel = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
if n_entries > 0 then
  for i = n_gens + 1, n_gens + 2 * n_entries, 2000 do
    redis.call('DEL', unpack(KEYS, i, math.min(i + 1999, n_gens + 2 * n_entries)))
  end
end
local t = redis.call('TIME')
local start = t[1] .. string.format('%06d', tonumber(t[2]))
local deleted = 0
for i = 1, n_gens do
  local done
  if redis.call('EXISTS', KEYS[i]) == 1 then
    done = redis.pcall('INCR', KEYS[i])
  else
    done = redis.pcall('SET', KEYS[i], start)
  end
  if type(done) == 'table' and done.err then
    redis.call('DEL', KEYS[i])
    deleted = deleted + 1
  end
end
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
