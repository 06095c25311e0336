#!lua flags=no-writes
--[[
  Read one customer's state and evaluate it at `now` without changing anything.

  Input:
    KEYS[1] meta       partition meta hash
    KEYS[2] due        due-timer sorted set
    KEYS[3] customer   the customer hash (declared so a cluster routes the call to its slot)
    ARGV[1] policy JSON (ScriptPolicy)
    ARGV[2] customer key prefix
    ARGV[3] customer id
    ARGV[4] now, ms; '' means the partition's event-time watermark

  Output:
    {} when the customer is unknown, else a flat list of strings ('' for none):
    { now, tier, tierSince, seq, pendingDowngradeSince, lastPurchaseAt, olderBuckets,
      newestBucket, monetary, frequency, rawTier, rule (0 inactive, -1 fallback, i tiers[i]),
      dueAt (computed at now), headroomUp, headroomDown, timerAt (as scheduled) }
    (buckets as stored: see customer-hash.ts)
]]
--- @include "includes/engine.lua"

E.p = cjson.decode(ARGV[1])
E.cprefix = ARGV[2]
E.metaKey, E.dueKey = KEYS[1], KEYS[2]
if redis.call('EXISTS', KEYS[3]) == 0 then return {} end
local now = tonumber(ARGV[4])
if now == nil then now = tonumber(redis.call('HGET', KEYS[1], 'ew') or '0') end

local c = loadCustomer(ARGV[3])
local m, f, oldest = aggregates(c, now)
local rawTier, rule = rawEval(m, f, c.lp, now)
local up, down = headroom(c.tier, m)
return { fmt(now), c.tier, optfmt(c.ts), fmt(c.seq), optfmt(c.pd), optfmt(c.lp), c.h, c.n,
  fmt(m), fmt(f), rawTier, fmt(rule), optfmt(dueTime(c, now, oldest)), optfmt(up), optfmt(down),
  optfmt(c.due) }
