-- Record the database transaction applying batch B (so a recovering flush can ask
-- the database whether it committed) and re-read the batch's rows, now locked.
-- KEYS: batches zset, batch hash. ARGV: batch id, txid ('' if unknown), lease expiry,
-- claimed prefix, pks... Returns nil when the batch was recovered by another flush.
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return nil end
redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], 'txid', ARGV[2])
local out = {}
for i = 5, #ARGV do
  out[#out + 1] = ARGV[i]
  out[#out + 1] = redis.call('HGETALL', ARGV[4] .. ARGV[i])
end
return out
