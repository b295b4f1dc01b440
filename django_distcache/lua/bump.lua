-- Apply one invalidation: delete entries with their leases, bump generation counters
-- (a missing one starts at the clock so that it never repeats a generation used
-- before it was lost) and acknowledge the outbox row, in one call.
-- KEYS: generations, then entries, then their leases, then the outbox's
-- acknowledgement set when ARGV[3] is not ''.
-- ARGV: number of generations, number of entries, outbox row to acknowledge ('' for none).
-- A Redis that refuses writes (maxmemory with noeviction) still allows DEL: a
-- generation it will not bump is deleted, and a missing generation is a new one.
-- Returns {generations deleted instead of bumped, 1 if acknowledged else 0}.
local n_gens, n_entries, ack = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
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
local acked = 0
if ack ~= '' then
  local done = redis.pcall('SADD', KEYS[#KEYS], ack)
  if not (type(done) == 'table' and done.err) then acked = 1 end
end
return {deleted, acked}
