-- Read generation counters, starting each missing one at the clock (so it never repeats
-- an older one). On a Redis Cluster, where generations live in their own slots, this
-- runs once per slot before the entries are read (read.lua does it itself on one Redis).
-- KEYS: generation keys of one slot. Returns their values. Loaded after gen_common.lua.
return current_generations(1, #KEYS)
