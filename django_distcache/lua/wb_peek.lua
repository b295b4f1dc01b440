-- The deferred writes of rows not yet in the database: per pk, the record held by an
-- unfinished batch (older), that batch's transaction id, the writes set aside by
-- direct writes in progress (marks, see wb_mark), and the pending record (newer).
-- KEYS: claimed hash. ARGV: buffer root, pks...
local root = ARGV[1]
local out = {}
for i = 2, #ARGV do
  local pk = ARGV[i]
  local id = redis.call('HGET', KEYS[1], pk)
  if id then
    out[#out + 1] = redis.call('HGETALL', root .. ':c:' .. id .. ':' .. pk)
    out[#out + 1] = redis.call('HGET', root .. ':b:' .. id, 'txid') or ''
  else
    out[#out + 1] = {}
    out[#out + 1] = ''
  end
  local marks = {}
  for _, token in ipairs(redis.call('SMEMBERS', root .. ':mk:' .. pk)) do
    marks[#marks + 1] = redis.call('HGETALL', root .. ':m:' .. pk .. ':' .. token)
  end
  out[#out + 1] = marks
  out[#out + 1] = redis.call('HGETALL', root .. ':r:' .. pk)
end
return out
