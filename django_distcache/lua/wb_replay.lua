-- Put a dead letter's writes back in the buffer, as older than the row's pending
-- writes (a newer value wins; an older increment under it is void), and take the
-- letter off the dead-letter list: once (a letter no longer listed is skipped).
-- KEYS: dead list. ARGV: buffer root, letter, pk, then (kind, attname, value) triples,
-- values before increments. Returns 1 if replayed.
local root, letter, pk = ARGV[1], ARGV[2], ARGV[3]
if redis.call('LREM', KEYS[1], 1, letter) == 0 then return 0 end
local rec = root .. ':r:' .. pk
local newer = {}
for _, f in ipairs(redis.call('HKEYS', rec)) do
  if string.sub(f, 1, 2) == 'v:' then newer[string.sub(f, 3)] = true end
end
for i = 4, #ARGV, 3 do
  local kind, name, value = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if not newer[name] then
    if kind == 'v' then
      redis.call('HSET', rec, 'v:' .. name, value)
    else
      redis.call('HINCRBY', rec, 'i:' .. name, value)
    end
  end
end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('HINCRBY', rec, 'n', 1)
redis.call('HSETNX', rec, 'since', now)
redis.call('ZADD', root .. ':pending', 'NX', now, pk)
redis.call('ZADD', root .. ':since', 'NX', now, pk)
redis.call('SET', root .. ':f:' .. pk, '1')
local prefix, label = string.match(root, '^(.*):wb:(.*)$')
redis.call('SADD', prefix .. ':wb:models', label)
return 1
