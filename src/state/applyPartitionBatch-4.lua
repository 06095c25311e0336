#!lua
--[[
  Apply one batch of transaction records of one topic partition, atomically.

  Input:
    KEYS[1] meta     partition meta hash
    KEYS[2] due      due-timer sorted set
    KEYS[3] tx       dedupe sorted set (transactionId -> evaluation time)
    KEYS[4] outbox   tier-change stream
    ARGV[1] policy JSON (ScriptPolicy)
    ARGV[2] customer sub-hash key prefix (all keys share the partition's hash tag)
    ARGV[3] clock mode: 'event' | 'wall'
    ARGV[4] wall-clock now, ms ('' in event mode)
    ARGV[5] dedupe horizon, ms
    ARGV[6] partition count of the topic, '' when unknown
    ARGV[7] customer sub-hash count S (keys.ts customerShard)
    ARGV[8] the offset the watermark must already have reached ('' for no such condition): a
            batch split into chunks sends them without waiting for each reply, and this makes
            chunk k+1 refuse to run if chunk k did not (never skip ahead)
    ARGV[9..] records, 7 values each, in offset order:
              offset, transactionId, customerId, customer sub-hash (0..S-1, computed by the caller),
              kind ('p' purchase | 'r' refund), amountMinor, eventTime

  Output:
    { applied, duplicate, late, stale, changes, timersFired }
    or { -1, storedPolicyVersion } / { -2, storedPartitionCount } / { -3, storedShardCount }
    / { -4, storedWatermark } (ARGV[8] not reached; nothing written)
    (see script-errors.ts)

  Per record: offset <= watermark -> stale; transactionId applied within the horizon -> duplicate;
  event mode fires every partition timer due at or before the event time first; wall mode fires
  the record's own customer's timers due at or before now; then the record applies (or is late).
]]
--- @include "includes/engine.lua"

local argv = ARGV
E.p = cjson.decode(argv[1])
E.cprefix = argv[2]
E.shards = tonumber(argv[7])
E.metaKey, E.dueKey, E.outKey = KEYS[1], KEYS[2], KEYS[4]
local txKey = KEYS[3]
local eventMode = argv[3] == 'event'
local wallNow = tonumber(argv[4])
local horizon = tonumber(argv[5])

local meta = readMeta()
local bad = checkMeta(meta, argv[6])
if bad then return bad end
-- Per-tier counters are kept from a partition's first call on ('cv'); a partition written before
-- them has none, and its census counts customers instead.
E.counting = meta['cv'] == '1' or meta['wo'] == nil
local wmOffset = tonumber(meta['wo'] or '-1')
if argv[8] ~= '' and wmOffset < tonumber(argv[8]) then return { -4, fmt(wmOffset) } end
local wmEvent = tonumber(meta['ew'] or '')
loadMinDue()

-- Every customer of a record past the watermark, loaded up front: one HMGET per sub-hash.
do
  local ids, shards = {}, {}
  for i = 9, #argv, 7 do
    if tonumber(argv[i]) > wmOffset then ids[#ids + 1] = argv[i + 2]; shards[#shards + 1] = argv[i + 3] end
  end
  preloadCustomers(ids, shards)
end

local applied, duplicate, late, stale = 0, 0, 0, 0
local clock = nil

-- Dedupe state of every transaction id in the batch, read in one ZMSCORE and written back in one
-- ZADD / ZREM at the end instead of a call per record: tx[id] = score (evaluation time of the
-- claim) or false when absent. Same outcome as claiming each id with ZADD NX as it comes.
local tx, txIds = {}, {}
for i = 10, #argv, 7 do
  local id = argv[i]
  if tx[id] == nil then tx[id] = false; txIds[#txIds + 1] = id end
end
for from = 1, #txIds, 1000 do
  local to = math.min(from + 999, #txIds)
  local scores = rcall('ZMSCORE', txKey, unpack(txIds, from, to))
  for k = 1, #scores do
    if scores[k] then tx[txIds[from + k - 1]] = tonumber(scores[k]) end
  end
end
local txDirty = {}

for i = 9, #argv, 7 do
  local offset = tonumber(argv[i])
  if offset <= wmOffset then
    stale = stale + 1
  else
    wmOffset = offset
    local txId, customerId, kind = argv[i + 1], argv[i + 2], argv[i + 4]
    local amount, eventTime = tonumber(argv[i + 5]), tonumber(argv[i + 6])
    local now = wallNow
    if eventMode then
      now = eventTime
      if wmEvent ~= nil and wmEvent > now then now = wmEvent end
    end
    -- An id counts once within the horizon: a claim older than that no longer makes a duplicate.
    local claimed = tx[txId]
    if claimed and claimed >= now - horizon then
      duplicate = duplicate + 1
    else
      tx[txId] = now
      txDirty[txId] = true
      local c
      if eventMode then
        firePartitionTimers(eventTime, nil)
        c = loadCustomer(customerId)
      else
        c = loadCustomer(customerId)
        fireCustomerTimers(c, now)
      end
      if wmEvent == nil or eventTime > wmEvent then wmEvent = eventTime end
      if applyTransaction(c, now, txId, kind, amount, eventTime) then
        applied = applied + 1
      else
        -- A late record changes nothing, so it does not claim its id either.
        late = late + 1
        tx[txId] = false
      end
      if clock == nil or now > clock then clock = now end
    end
  end
end

-- Write the claims back (scores as '%d' strings: cheaper for Redis than formatting a Lua number).
local zadd, zrem = {}, {}
for id in pairs(txDirty) do
  local score = tx[id]
  if score then
    zadd[#zadd + 1] = fmt(score); zadd[#zadd + 1] = id
  else
    zrem[#zrem + 1] = id
  end
end
for from = 1, #zadd, 2000 do rcall('ZADD', txKey, unpack(zadd, from, math.min(from + 1999, #zadd))) end
for from = 1, #zrem, 1000 do rcall('ZREM', txKey, unpack(zrem, from, math.min(from + 999, #zrem))) end

flushDue()
storeCustomers()
local metaArgs = { 'wo', fmt(wmOffset), 'pv', E.p.v }
if wmEvent ~= nil then metaArgs[#metaArgs + 1] = 'ew'; metaArgs[#metaArgs + 1] = fmt(wmEvent) end
if argv[6] ~= '' then metaArgs[#metaArgs + 1] = 'pc'; metaArgs[#metaArgs + 1] = argv[6] end
metaArgs[#metaArgs + 1] = 'cs'; metaArgs[#metaArgs + 1] = argv[7]
if E.counting then metaArgs[#metaArgs + 1] = 'cv'; metaArgs[#metaArgs + 1] = '1' end
if E.outSeq ~= nil then metaArgs[#metaArgs + 1] = 'os'; metaArgs[#metaArgs + 1] = fmt(E.outSeq) end
rcall('HSET', E.metaKey, unpack(metaArgs))
if applied > 0 then rcall('HINCRBY', E.metaKey, 'applied', applied) end
if duplicate > 0 then rcall('HINCRBY', E.metaKey, 'duplicate', duplicate) end
if late > 0 then rcall('HINCRBY', E.metaKey, 'late', late) end
if stale > 0 then rcall('HINCRBY', E.metaKey, 'stale', stale) end
if E.changes > 0 then rcall('HINCRBY', E.metaKey, 'changes', E.changes) end
-- Entries older than the horizon can no longer make a record a duplicate: the clock only grows.
if clock ~= nil then rcall('ZREMRANGEBYSCORE', txKey, '-inf', '(' .. fmt(clock - horizon)) end

return { applied, duplicate, late, stale, E.changes, E.fired }
