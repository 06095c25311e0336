#!lua
--[[
  Publish the next epoch of relative boundaries, fenced by the coordinator lease: only the
  holder of the lease with this fencing token may publish, and only the epoch right after the
  latest (wall clock) or, for epochs numbered by their event-time instant, an epoch after the
  latest, so a deposed coordinator cannot publish and no epoch is ever written twice.

  Input:
    KEYS[1] the lease   KEYS[2] the epochs hash   KEYS[3] the latest epoch number
    ARGV[1] fencing token   ARGV[2] epoch   ARGV[3] the encoded boundaries
    ARGV[4] '1' when epochs are numbered by instant (any epoch after the latest), else '0'

  Output:
    { 0 }                      published
    { -1, lease value or '' }  the lease is not held with this token: nothing written
    { -2, latest epoch }       the epoch is not the next one (or not after the latest): nothing written
]]
local held = redis.call('GET', KEYS[1])
local bar = held and string.find(held, '|', 1, true)
if not bar or string.sub(held, 1, bar - 1) ~= ARGV[1] then return { -1, held or '' } end
local latest = tonumber(redis.call('GET', KEYS[3]) or '0')
local epoch = tonumber(ARGV[2])
if (ARGV[4] == '1' and epoch <= latest) or (ARGV[4] ~= '1' and epoch ~= latest + 1) then return { -2, tostring(latest) } end
if redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[3]) == 0 then return { -2, tostring(latest) } end
redis.call('SET', KEYS[3], ARGV[2])
return { 0 }
