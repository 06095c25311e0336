#!lua
--[[
  Fire the due timers of one topic partition up to `now` (wall clock mode), in (due, customerId)
  order, each evaluated at its own due time, at most `limit` firings per call.

  Input:
    KEYS[1] meta     partition meta hash
    KEYS[2] due      due-timer sorted set
    KEYS[3] outbox   tier-change stream
    ARGV[1] policy JSON (ScriptPolicy)
    ARGV[2] customer sub-hash key prefix
    ARGV[3] now, ms
    ARGV[4] limit: most timers fired in this call
    ARGV[5] partition count of the topic, '' when unknown
    ARGV[6] customer sub-hash count S

  Output:
    { timersFired, changes, more (1 when timers due at or before now remain) }
    or { -1, storedPolicyVersion } / { -2, storedPartitionCount } / { -3, storedShardCount }
    (see script-errors.ts)
]]
--- @include "includes/engine.lua"

E.p = cjson.decode(ARGV[1])
E.cprefix = ARGV[2]
E.shards = tonumber(ARGV[6])
E.metaKey, E.dueKey, E.outKey = KEYS[1], KEYS[2], KEYS[3]
local now = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])

local meta = readMeta()
local bad = checkMeta(meta, ARGV[5])
if bad then return bad end
E.counting = meta['cv'] == '1'
loadMinDue()

local more = firePartitionTimers(now, limit)
flushDue()
storeCustomers()
if E.outSeq ~= nil then redis.call('HSET', E.metaKey, 'os', fmt(E.outSeq)) end
if E.changes > 0 then redis.call('HINCRBY', E.metaKey, 'changes', E.changes) end
if more then return { E.fired, E.changes, 1 } end
return { E.fired, E.changes, 0 }
