-- Bump generation counters; a missing one starts at the clock so that it never
-- repeats a generation used before it was lost.
-- KEYS: generation keys, then the outbox's acknowledgement set when ARGV[1] is not ''.
-- ARGV: the outbox row to acknowledge ('' for none).
-- A Redis that refuses writes (maxmemory with noeviction) still allows DEL: a
-- generation it will not bump is deleted, and a missing generation is a new one.
-- Returns {generations deleted instead of bumped, 1 if acknowledged else 0}.
local t = redis.call('TIME')
local start = t[1] .. string.format('%06d', tonumber(t[2]))
local last = #KEYS
if ARGV[1] ~= '' then last = last - 1 end
local deleted = 0
for i = 1, last do
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
if ARGV[1] ~= '' then
  local done = redis.pcall('SADD', KEYS[#KEYS], ARGV[1])
  if not (type(done) == 'table' and done.err) then acked = 1 end
end
return {deleted, acked}
