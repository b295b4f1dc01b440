-- Put a dead letter's writes back in the buffer, as older than the row's pending
-- writes (a newer value wins; an older increment under it is void), and take the
-- letter off the dead-letter list: once (a letter no longer listed is skipped).
-- KEYS: dead list, pending zset, since zset, the row's record, the row's flag.
-- ARGV: letter, pk, then (kind, attname, value) triples. Returns 1 if replayed.
local dead, pending, since, rec, flag = unpack(KEYS, 1, 5)
if redis.call('LREM', dead, 1, ARGV[1]) == 0 then return 0 end
local older = {}
for i = 3, #ARGV, 3 do
  older[#older + 1] = ARGV[i] .. ':' .. ARGV[i + 1]
  older[#older + 1] = ARGV[i + 2]
end
merge_older(rec, older)
requeue(rec, pending, since, flag, ARGV[2])
return 1
