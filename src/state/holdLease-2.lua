#!lua
--[[
  Take or keep the coordinator lease of a key prefix (relative boundaries). The lease value is
  `<token>|<instance>`; a new holder gets the next fencing token (larger than every earlier one),
  a holder that keeps it keeps its token.

  Input:
    KEYS[1] the lease (string with a TTL)   KEYS[2] the fencing token counter
    ARGV[1] instance id   ARGV[2] lease time, ms

  Output:
    { 1, token }            this instance holds the lease (taken now or renewed), token as a string
    { 0, current value }    another instance holds it: nothing written
]]
local held = redis.call('GET', KEYS[1])
if held then
  local bar = string.find(held, '|', 1, true)
  if bar and string.sub(held, bar + 1) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return { 1, string.sub(held, 1, bar - 1) }
  end
  return { 0, held }
end
local token = tostring(redis.call('INCR', KEYS[2]))
redis.call('SET', KEYS[1], token .. '|' .. ARGV[1], 'PX', ARGV[2])
return { 1, token }
