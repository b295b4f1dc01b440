-- The deferred writes of rows not yet in the database: per pk, the record held by an
-- unfinished batch (older), that batch's transaction id, and the pending record (newer).
-- KEYS: claimed hash. ARGV: record prefix, claimed prefix, batch hash prefix, pks...
local out = {}
for i = 4, #ARGV do
  local pk = ARGV[i]
  local id = redis.call('HGET', KEYS[1], pk)
  if id then
    out[#out + 1] = redis.call('HGETALL', ARGV[2] .. id .. ':' .. pk)
    out[#out + 1] = redis.call('HGET', ARGV[3] .. id, 'txid') or ''
  else
    out[#out + 1] = {}
    out[#out + 1] = ''
  end
  out[#out + 1] = redis.call('HGETALL', ARGV[1] .. pk)
end
return out
