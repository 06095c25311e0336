#!lua
--[[
  Record the input topic's incarnation (META.topicIncarnation) in a claimed partition's meta.
  Only a meta that a claim created is written: a partition whose state vanished between the claim
  and this call (a Redis restarted without persistence) must not get a meta without its layout.

  Input:
    KEYS[1] meta     partition meta hash
    ARGV[1] format version
    ARGV[2] the incarnation, `<offset>@<timestamp>`

  Output:
    1 recorded, 0 the meta has no state of this format (nothing written)
]]
if redis.call('HGET', KEYS[1], 'fv') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'ti', ARGV[2])
return 1
