-- A direct save or update() of rows wrote these fields: drop the deferred writes to
-- them made before it, pending or held by a batch not yet written.
-- The rows' fences (set while the direct write was in progress) come down.
-- KEYS: pending zset, claimed hash, since zset. ARGV: record prefix, claimed prefix, fence prefix,
-- n_fields, fields..., pks...
local n = tonumber(ARGV[4])
for p = 5 + n, #ARGV do
  local pk = ARGV[p]
  redis.call('DEL', ARGV[3] .. pk)
  local targets = {ARGV[1] .. pk}
  local id = redis.call('HGET', KEYS[2], pk)
  if id then targets[2] = ARGV[2] .. id .. ':' .. pk end
  for t, key in ipairs(targets) do
    for f = 5, 4 + n do
      redis.call('HDEL', key, 'v:' .. ARGV[f], 'i:' .. ARGV[f])
    end
    if t == 1 and redis.call('EXISTS', key) == 1 then
      local left = false
      for _, name in ipairs(redis.call('HKEYS', key)) do
        local kind = string.sub(name, 1, 2)
        if kind == 'v:' or kind == 'i:' then left = true end
      end
      if not left then
        redis.call('DEL', key)
        redis.call('ZREM', KEYS[1], pk)
        if not id then redis.call('ZREM', KEYS[3], pk) end
      end
    end
  end
end
return 1
