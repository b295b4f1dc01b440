-- Settle the marks of a direct write (see wb_mark): 'drop' once it committed (its
-- rows' cached entries go too: a read may have laid the marked writes over them),
-- 'restore' if it did not (the marked writes go back in front of newer ones; a row
-- claimed by a batch is skipped, to be restored after it).
-- KEYS: claimed hash. ARGV: buffer root, mode, token, entry key prefix ('' when the
-- entries live in another Redis), pks... Returns the pks skipped.
local root, mode, token, entries = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local skipped = {}
for p = 5, #ARGV do
  local pk = ARGV[p]
  local mark, rec = root .. ':m:' .. pk .. ':' .. token, root .. ':r:' .. pk
  if mode == 'restore' and redis.call('HEXISTS', KEYS[1], pk) == 1 then
    skipped[#skipped + 1] = pk
  else
    if mode == 'restore' and redis.call('EXISTS', mark) == 1 then
      local newer = {}
      for _, f in ipairs(redis.call('HKEYS', rec)) do
        if string.sub(f, 1, 2) == 'v:' then newer[string.sub(f, 3)] = true end
      end
      local old = redis.call('HGETALL', mark)
      for i = 1, #old, 2 do
        local kind, name = string.sub(old[i], 1, 2), string.sub(old[i], 3)
        if kind == 'v:' and not newer[name] then redis.call('HSET', rec, old[i], old[i + 1]) end
        if kind == 'i:' and not newer[name] then redis.call('HINCRBY', rec, old[i], old[i + 1]) end
      end
      local t = redis.call('TIME')
      local now = t[1] * 1000 + math.floor(t[2] / 1000)
      redis.call('HINCRBY', rec, 'n', 1)
      redis.call('HSETNX', rec, 'since', now)
      redis.call('ZADD', root .. ':pending', 'NX', now, pk)
      redis.call('ZADD', root .. ':since', 'NX', now, pk)
      redis.call('SET', root .. ':f:' .. pk, '1')
    end
    redis.call('DEL', mark)
    redis.call('SREM', root .. ':mk:' .. pk, token)
    redis.call('ZREM', root .. ':marks', token .. ':' .. pk)
    if mode == 'drop' then
      if entries ~= '' then redis.call('DEL', entries .. pk, entries .. pk .. '!lease') end
      if redis.call('EXISTS', rec) == 0 and redis.call('HEXISTS', KEYS[1], pk) == 0
          and redis.call('EXISTS', root .. ':mk:' .. pk) == 0 then
        redis.call('ZREM', root .. ':since', pk)
        redis.call('DEL', root .. ':f:' .. pk)
      end
    end
  end
end
return skipped
