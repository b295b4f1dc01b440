-- The deferred writes of rows not yet in the database: per pk, the record held by an
-- unfinished batch (older), that batch's transaction id, the writes set aside by
-- direct writes in progress (their marks hash), and the pending record (newer).
-- A row without its flag has none: it costs one EXISTS.
-- KEYS: claimed hash, txids hash, then per row: its flag, held record, marks hash and
--       record. ARGV: pks...
local claimed, txids = KEYS[1], KEYS[2]
local out = {}
for p = 1, #ARGV do
  local k = 2 + 4 * (p - 1)
  local flag, held, marks, rec = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4]
  if redis.call('EXISTS', flag) == 0 then
    out[#out + 1] = 0
  else
    local id = redis.call('HGET', claimed, ARGV[p])
    local txid = ''
    if id then txid = redis.call('HGET', txids, id) or '' end
    out[#out + 1] = {
      redis.call('HGETALL', held), txid, redis.call('HGETALL', marks), redis.call('HGETALL', rec)
    }
  end
end
return out
