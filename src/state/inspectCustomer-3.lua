#!lua flags=no-writes
--[[
  Read one customer's state and evaluate it at `now` without changing anything.

  Input:
    KEYS[1] meta       partition meta hash
    KEYS[2] due        due-timer sorted set
    KEYS[3] customer   the customer's sub-hash (declared so a cluster routes the call to its slot)
    ARGV[1] policy JSON (ScriptPolicy)
    ARGV[2] customer sub-hash key prefix
    ARGV[3] customer id
    ARGV[4] now, ms; '' means the partition's event-time watermark
    ARGV[5] customer sub-hash count S (KEYS[3] was chosen with it)

  Output:
    { -3, storedShardCount } when the partition was written with another S (script-errors.ts),
    {} when the customer is unknown, else a flat list of strings ('' for none):
    { now, tier, tierSince, seq, pendingDowngradeSince, lastPurchaseAt, olderBuckets,
      newestBucket, monetary, frequency, rawTier, rule (0 inactive, -1 fallback, i tiers[i]),
      dueAt (computed at now), headroomUp, headroomDown, timerAt (as scheduled) }
    (buckets as stored: see customer-hash.ts)
]]
--- @include "includes/engine.lua"

E.p = cjson.decode(ARGV[1])
E.cprefix = ARGV[2]
E.shards = tonumber(ARGV[5])
E.metaKey, E.dueKey = KEYS[1], KEYS[2]
local meta = redis.call('HMGET', KEYS[1], 'ew', 'cs', 'wo')
-- HMGET answers false for a missing field; checkShards expects nil.
local bad = checkShards(meta[2] or nil, meta[3] or nil)
if bad then return bad end
local packed = redis.call('HGET', KEYS[3], ARGV[3])
if not packed then return {} end
local now = tonumber(ARGV[4])
if now == nil then now = tonumber(meta[1] or '0') end

local c = addCustomer(ARGV[3], nil, packed)
local m, f, oldest = aggregates(c, now)
local rawTier, rule = rawEval(m, f, c.lp, now)
local up, down = headroom(c.tier, m)
return { fmt(now), c.tier, optfmt(c.ts), fmt(c.seq), optfmt(c.pd), optfmt(c.lp), c.h, c.n,
  fmt(m), fmt(f), rawTier, fmt(rule), optfmt(dueTime(c, now, oldest)), optfmt(up), optfmt(down),
  optfmt(c.due) }
