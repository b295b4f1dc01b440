-- Settle the mark of a direct write (see wb_mark): 'drop' once it committed, 'restore'
-- if it did not (the marked writes go back in front of newer ones; a row claimed by
-- a batch is skipped, to be restored after it). A dropped row's cached entry is
-- deleted by the caller just before (a read may have laid the marked writes over it).
-- KEYS: claimed hash, marks zset, pending zset, since zset, then per row: its record,
--       marks hash and flag.
-- ARGV: mode, token, pks... Returns the pks skipped.
local claimed, marks, pending, since = unpack(KEYS, 1, 4)
local mode, token = ARGV[1], ARGV[2]
local tag = token .. ':'
local skipped = {}
for p = 3, #ARGV do
  local pk = ARGV[p]
  local k = 4 + 3 * (p - 3)
  local rec, mark, flag = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
  if mode == 'restore' and redis.call('HEXISTS', claimed, pk) == 1 then
    skipped[#skipped + 1] = pk
  else
    -- This mark's fields, without their token.
    local mine, names = {}, {}
    local all = redis.call('HGETALL', mark)
    for i = 1, #all, 2 do
      if string.sub(all[i], 1, #tag) == tag then
        names[#names + 1] = all[i]
        mine[#mine + 1] = string.sub(all[i], #tag + 1)
        mine[#mine + 1] = all[i + 1]
      end
    end
    if mode == 'restore' and #mine > 0 then
      merge_older(rec, mine)
      requeue(rec, pending, since, flag, pk)
    end
    each_slice(names, function(...) redis.call('HDEL', mark, ...) end)
    redis.call('ZREM', marks, tag .. pk)
    if mode == 'drop' and redis.call('EXISTS', rec) == 0
        and redis.call('HEXISTS', claimed, pk) == 0 and redis.call('EXISTS', mark) == 0 then
      redis.call('ZREM', since, pk)
      redis.call('DEL', flag)
    end
  end
end
return skipped
