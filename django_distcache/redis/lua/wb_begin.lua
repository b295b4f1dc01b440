-- Record the database transaction applying batch B (so a recovering flush, and reads,
-- can ask the database whether it committed) and re-read the batch's rows, now locked.
-- KEYS: batches zset, batch hash, txids hash (batch -> txid), then the held record of
--       each row. ARGV: batch id, txid ('' if unknown), lease expiry, the rows' pks...
-- Returns nil when the batch was recovered by another flush (or taken over before it
-- began: its txid is set).
-- NOTE: the rows come back as one string of length-prefixed items (pk, field count,
-- then field and value pairs): parsing one bulk string is far cheaper for the client
-- than thousands of nested replies.
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return nil end
if redis.call('HEXISTS', KEYS[2], 'txid') == 1 then return nil end
redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], 'txid', ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
local out = {}
local function item(value) out[#out + 1] = #value .. ':' .. value end
for i = 4, #ARGV do
  item(ARGV[i])
  local fields = redis.call('HGETALL', KEYS[i])
  item(tostring(#fields))
  for _, value in ipairs(fields) do item(value) end
end
return table.concat(out)
