#!lua
--[[
  Claim one topic partition for a new owner: check that its state is of this layout, partition
  count, customer sub-hash count and policy, then set the owner token (which fences every commit
  of any earlier owner) and return what the new owner needs to resume.

  Input:
    KEYS[1] meta     partition meta hash (field names: META in layout.ts)
    ARGV[1] format version
    ARGV[2] partition count of the input topic
    ARGV[3] customer sub-hash count S
    ARGV[4] policy version
    ARGV[5] policy content hash
    ARGV[6] the new owner's token

  Output:
    { 0, meta field/value list } after the claim (a fresh partition gets its layout fields)
    or { -1, field, stored value } when a layout field differs (nothing written)
    (see script-errors.ts)
]]
local meta = KEYS[1]
local stored = redis.call('HMGET', meta, 'fv', 'pc', 'ns', 'pv', 'ph')
if stored[1] == false and redis.call('EXISTS', meta) == 1 then
  -- A meta without a format version was written by a layout this code does not know.
  return { -1, 'fv', '' }
end
if stored[1] ~= false then
  local fields = { 'fv', 'pc', 'ns', 'pv', 'ph' }
  for i = 1, 5 do
    if stored[i] ~= ARGV[i] then return { -1, fields[i], stored[i] or '' } end
  end
  redis.call('HSET', meta, 'ow', ARGV[6])
else
  redis.call('HSET', meta, 'fv', ARGV[1], 'pc', ARGV[2], 'ns', ARGV[3], 'pv', ARGV[4], 'ph', ARGV[5], 'ow', ARGV[6], 'cn', '0')
end
return { 0, redis.call('HGETALL', meta) }
