-- Take over batch B if its lease ran out (its flush died or hangs).
-- KEYS: batches zset, batch hash, txids hash. ARGV: batch id, now_ms, new lease expiry.
-- Returns the batch hash (txid, p:<pk> fields) or nil if it is not stale.
-- A batch whose flush had not begun its transaction gets an empty txid: that flush's
-- wb_begin then refuses it, so it cannot write rows that recovery puts back.
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expiry or tonumber(expiry) > tonumber(ARGV[2]) then return nil end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HSETNX', KEYS[2], 'txid', '')
redis.call('HSETNX', KEYS[3], ARGV[1], '')
return redis.call('HGETALL', KEYS[2])
