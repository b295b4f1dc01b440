-- Number one invalidation and publish it to the near caches, then acknowledge its outbox
-- row, in one call. On a Redis Cluster this runs once every slot's bump.lua has applied
-- the invalidation (redis/routed.py), on the primary of the outbox's slot: one sequence
-- for the whole cluster, numbered and published by one node.
-- KEYS: the near cache's sequence, then the outbox's acknowledgement set when ARGV[2] is not ''.
-- ARGV: the near cache's channel, the outbox row to acknowledge ('' for none), the
-- generation keys bumped and the entry keys deleted (each list joined by spaces).
-- Publishes "<sequence>\n<generations>\n<entries>" as bump.lua does ("-": not counted).
-- Returns 1 if acknowledged else 0.
local seq = redis.pcall('INCR', KEYS[1])
if type(seq) == 'table' and seq.err then seq = '-' end
redis.call('PUBLISH', ARGV[1], seq .. '\n' .. ARGV[3] .. '\n' .. ARGV[4])
local acked = 0
if ARGV[2] ~= '' then
  local done = redis.pcall('SADD', KEYS[2], ARGV[2])
  if not (type(done) == 'table' and done.err) then acked = 1 end
end
return acked
