--[[
  The tier engine shared by the partition scripts: customer load/store, rolling aggregates,
  evaluation with hysteresis (docs: src/policy/SEMANTICS.md, mirrored by src/policy), due
  timers and the outbox. Integers only; every number is written back with string.format('%d')
  because tostring() in Lua 5.1 switches to exponent notation above 14 digits.

  Expects the including script to fill E (below) before use:
    E.p policy (ScriptPolicy, src/state/script-policy.ts), E.cprefix (customer sub-hash key prefix),
    E.shards (customer sub-hash count), E.dueKey, E.outKey, E.metaKey, and E.counting (whether
    this partition's per-tier counters are maintained: see storeCustomers).
]]
-- Library functions as locals: a global lookup plus a field lookup per use adds up on a path
-- that runs for every event.
local sformat, smatch, floor, tonumber, rcall = string.format, string.match, math.floor, tonumber, redis.call

local E = { customers = {}, order = {}, changes = 0, fired = 0, recArgs = {}, recFormats = {}, dueIds = {}, dueMarked = {}, hr = {}, counting = false }

local function fmt(n)
  return sformat('%d', n)
end

-- JSON pieces for the outbox record; numbers via fmt, never cjson (14 significant digits only).
local function jstr(v)
  if v == nil then return 'null' end
  -- Most ids need no escaping; cjson only for those that do.
  if not string.find(v, '[%c"\\/\128-\255]') then return '"' .. v .. '"' end
  return cjson.encode(v)
end

local function optfmt(n)
  if n == nil then return '' end
  return sformat('%d', n)
end

-- Customers live in S sub-hashes per partition (E.cprefix .. shard), field = customerId, value =
-- the customer's state packed into one string (decoded outside Lua only by customer-hash.ts):
--   m|f|l|s|ts|pd|d|n|h|t
--   m, f  monetary and frequency summed over all stored buckets; l lastPurchaseAt; s seq;
--   ts tierSince; pd pendingDowngradeSince; d due time (a copy of the due set's score);
--   n the newest bucket "idx:m:f"; h older buckets "idx:m:f,..." ascending; t tier (last: a
--   tier name may hold any character). Optional numbers are empty when absent; all are '%d'.
-- One string per customer keeps loading a batch to one HMGET and saving it to one HSET per
-- touched sub-hash, and one pattern match parses it.
-- The n/h split and the totals make the common event (into the newest bucket or a new one,
-- nothing expired) O(1): the bucket list is parsed only when a bucket expires or an event lands
-- in an older bucket, which keeps the cost flat for customers with hundreds of buckets.
local BUCKET = '(%-?%d+):(%-?%d+):(%-?%d+)'
local ONE_BUCKET = '^' .. BUCKET .. '$'
local PACKED = '^(%-?%d+)|(%-?%d+)|(%-?%d*)|(%-?%d+)|(%-?%d*)|(%-?%d*)|(%-?%d*)|([^|]*)|([^|]*)|(.*)$'
local sbyte = string.byte

-- The customer's sub-hash: h = (h * 31 + byte) mod (2^31 - 1) over the id's bytes, then
-- (h * 48271 mod (2^31 - 1)) mod E.shards. Mirrors customerShard in keys.ts (intermediates stay
-- below 2^47: exact in a double). Only the timer path needs it: batch records arrive with their
-- shard computed by the caller.
local function shardOf(id)
  local h = 0
  for i = 1, #id do h = (h * 31 + sbyte(id, i)) % 2147483647 end
  return sformat('%d', (h * 48271) % 2147483647 % E.shards) -- a string, like the shards the caller passes in ARGV
end

-- A customer from its packed value (false or nil: a new customer).
-- seq and tierSince stay strings until a change needs them (Lua coerces them in arithmetic and
-- string.format), which saves two strtod calls per event. Every field the engine may set is named
-- here, so the table is sized once: adding keys one by one would rehash it per customer.
local function addCustomer(id, shard, v)
  local c
  if v then
    local m, f, lp, seq, ts, pd, d, n, h, t = smatch(v, PACKED)
    if t == '' then t = nil end
    if ts == '' then ts = nil end
    m = tonumber(m)
    c = { id = id, shard = shard, h = h, n = n, m = m, f = tonumber(f), lp = tonumber(lp), tier = t,
      seq = seq, ts = ts, pd = tonumber(pd), due = tonumber(d), idj = nil, idp = nil, dirty = false, t0 = t, m0 = m }
  else
    c = { id = id, shard = shard, h = '', n = '', m = 0, f = 0, lp = nil, tier = nil,
      seq = 0, ts = nil, pd = nil, due = nil, idj = nil, idp = nil, dirty = false, t0 = nil, m0 = 0 }
  end
  E.customers[id] = c
  E.order[#E.order + 1] = id
  return c
end

-- Load one customer (the timer path): one HGET.
local function loadCustomer(id)
  local c = E.customers[id]
  if c then return c end
  local shard = shardOf(id)
  return addCustomer(id, shard, rcall('HGET', E.cprefix .. shard, id))
end

-- Load the customers ids[i] (in sub-hash shards[i]) not loaded yet: one HMGET per sub-hash.
local function preloadCustomers(ids, shards)
  local groups, order = {}, {}
  local customers = E.customers
  for i = 1, #ids do
    local id = ids[i]
    if customers[id] == nil then
      local shard = shards[i]
      local g = groups[shard]
      if g == nil then g = {}; groups[shard] = g; order[#order + 1] = shard end
      g[#g + 1] = id
      customers[id] = true -- placeholder: each id once
    end
  end
  for k = 1, #order do
    local shard = order[k]
    local g = groups[shard]
    local key = E.cprefix .. shard
    for from = 1, #g, 1000 do
      local to = math.min(from + 999, #g)
      local r = rcall('HMGET', key, unpack(g, from, to))
      for j = from, to do
        local id = g[j]
        customers[id] = nil
        addCustomer(id, shard, r[j - from + 1])
      end
    end
  end
end

local function piece(idx, m, f)
  return sformat('%d:%d:%d', idx, m, f)
end

-- Oldest stored bucket index, nil when none.
local function oldestIndex(c)
  local src = c.h
  if src == '' then src = c.n end
  if src == '' then return nil end
  return tonumber(smatch(src, '^(%-?%d+)'))
end

-- Rewrite h/n/m/f from a full bucket table {idx -> {m, f}} (the slow path).
local function setBuckets(c, buckets)
  local idxs = {}
  for idx in pairs(buckets) do idxs[#idxs + 1] = idx end
  table.sort(idxs)
  local parts, m, f = {}, 0, 0
  for i, idx in ipairs(idxs) do
    local b = buckets[idx]
    parts[i] = piece(idx, b[1], b[2])
    m = m + b[1]
    f = f + b[2]
  end
  c.n = parts[#parts] or ''
  parts[#parts] = nil
  c.h = table.concat(parts, ',')
  c.m, c.f = m, f
  c.dirty = true
end

local function parseBuckets(c)
  local buckets = {}
  for idx, m, f in string.gmatch(c.h .. ',' .. c.n, BUCKET) do
    buckets[tonumber(idx)] = { tonumber(m), tonumber(f) }
  end
  return buckets
end

-- Add (dm, df) to bucket idx.
local function addToBucket(c, idx, dm, df)
  c.dirty = true
  if c.n == '' then
    c.n = piece(idx, dm, df)
  else
    local nIdx, nm, nf = smatch(c.n, ONE_BUCKET)
    nIdx = tonumber(nIdx)
    if idx == nIdx then
      c.n = piece(idx, tonumber(nm) + dm, tonumber(nf) + df)
    elseif idx > nIdx then
      if c.h == '' then c.h = c.n else c.h = c.h .. ',' .. c.n end
      c.n = piece(idx, dm, df)
    else
      local buckets = parseBuckets(c)
      local b = buckets[idx]
      if b == nil then buckets[idx] = { dm, df } else b[1] = b[1] + dm; b[2] = b[2] + df end
      setBuckets(c, buckets)
      return
    end
  end
  c.m = c.m + dm
  c.f = c.f + df
end

-- Write every changed customer back: one HSET per touched sub-hash, numbers as '%d' (Redis would
-- format a Lua number with '%.17g', and tostring() uses exponents above 14 digits).
-- With E.counting, the partition's per-tier counters in the meta hash move with the customers:
-- 'n:<tier>' customers in the tier and 'r:<tier>' the sum of their stored monetary (the window's
-- spend as of their last evaluation), so a census reads a few fields instead of every customer.
local function storeCustomers()
  local order, customers = E.order, E.customers
  local groups, shards = {}, {}
  local counting, dn, dr, touched = E.counting, {}, {}, {}
  for i = 1, #order do
    local c = customers[order[i]]
    if c.dirty then
      if counting and (c.tier ~= c.t0 or c.m ~= c.m0) then
        local t0, t = c.t0, c.tier
        if t0 ~= nil then
          if dn[t0] == nil then dn[t0] = 0; dr[t0] = 0; touched[#touched + 1] = t0 end
          dn[t0] = dn[t0] - 1; dr[t0] = dr[t0] - c.m0
        end
        if t ~= nil then
          if dn[t] == nil then dn[t] = 0; dr[t] = 0; touched[#touched + 1] = t end
          dn[t] = dn[t] + 1; dr[t] = dr[t] + c.m
        end
      end
      local g = groups[c.shard]
      if g == nil then g = {}; groups[c.shard] = g; shards[#shards + 1] = c.shard end
      g[#g + 1] = c.id
      g[#g + 1] = sformat('%d|%d|%s|%d|%s|%s|%s|%s|%s|%s', c.m, c.f, optfmt(c.lp), c.seq, optfmt(c.ts),
        optfmt(c.pd), optfmt(c.due), c.n, c.h, c.tier or '')
    end
  end
  for k = 1, #shards do
    local g = groups[shards[k]]
    local key = E.cprefix .. shards[k]
    for from = 1, #g, 2000 do rcall('HSET', key, unpack(g, from, math.min(from + 1999, #g))) end
  end
  for k = 1, #touched do
    local t = touched[k]
    if dn[t] ~= 0 then rcall('HINCRBY', E.metaKey, 'n:' .. t, fmt(dn[t])) end
    if dr[t] ~= 0 then rcall('HINCRBY', E.metaKey, 'r:' .. t, fmt(dr[t])) end
  end
end

-- Monetary, frequency and the oldest counted bucket at `now`. Buckets that no longer count are
-- dropped on the way: the clock only moves forward, so they can never count again.
local function aggregates(c, now)
  local start = floor(now / E.p.B) - E.p.W + 1
  local oldest = oldestIndex(c)
  if oldest == nil or oldest >= start then return c.m, c.f, oldest end
  local buckets = parseBuckets(c)
  oldest = nil
  for idx in pairs(buckets) do
    if idx < start then buckets[idx] = nil
    elseif oldest == nil or idx < oldest then oldest = idx end
  end
  setBuckets(c, buckets)
  return c.m, c.f, oldest
end

-- cond = {metric, op, value, relaxedValue}; rec == nil means no purchase ever (+infinity).
local function condHolds(cond, m, f, rec, relax)
  local metric, op, v = cond[1], cond[2], cond[3]
  local x
  if metric == 'm' then
    x = m
    if relax then v = cond[4] end
  elseif metric == 'f' then
    x = f
  else
    if rec == nil then return op == 'gt' or op == 'gte' end
    x = rec
  end
  if op == 'gt' then return x > v
  elseif op == 'gte' then return x >= v
  elseif op == 'lt' then return x < v
  else return x <= v end
end

local function tierHolds(tier, m, f, rec, relax)
  if tier.x == 1 then return false end
  local conds = tier.c
  for i = 1, #conds do
    if not condHolds(conds[i], m, f, rec, relax) then return false end
  end
  return true
end

-- Raw evaluation: tier name and the rule that decided it (0 inactive, -1 fallback, i tiers[i]).
-- The hottest loop of the engine, so conditions are checked inline rather than via tierHolds.
local function rawEval(m, f, lp, now)
  local p = E.p
  if p.ia >= 0 and lp ~= nil and now - lp >= p.ia then return p.it, 0 end
  local rec = nil
  if lp ~= nil then rec = now - lp end
  local tiers = p.t
  for i = 1, #tiers do
    local tier = tiers[i]
    if tier.x == 0 then
      local ok = true
      local conds = tier.c
      for k = 1, #conds do
        local cond = conds[k]
        local metric, op, v = cond[1], cond[2], cond[3]
        local x = rec
        if metric == 'm' then x = m elseif metric == 'f' then x = f end
        if x == nil then ok = op == 'gt' or op == 'gte'
        elseif op == 'gt' then ok = x > v
        elseif op == 'gte' then ok = x >= v
        elseif op == 'lt' then ok = x < v
        else ok = x <= v end
        if not ok then break end
      end
      if ok then return tier.n, i end
    end
  end
  return p.fb, -1
end

-- Hysteresis around the raw tier (src/policy/evaluate.ts evaluateTier); may set or clear c.pd.
-- Returns the tier to be in from `now` on.
local function decide(c, m, f, lp, now)
  local p = E.p
  local raw = rawEval(m, f, lp, now)
  local cur = c.tier
  local rk = p.rk
  -- No tier yet, or one this policy does not know (the policy changed): classify afresh.
  if cur == nil or rk[cur] == nil then return raw end
  local cand = raw
  if rk[raw] < rk[cur] and raw ~= p.it then
    local ci = p.ti[cur]
    if ci then
      local rec = nil
      if lp ~= nil then rec = now - lp end
      if tierHolds(p.t[ci], m, f, rec, true) then cand = cur end
    end
  end
  if rk[cand] < rk[cur] then
    if p.g > 0 and cand ~= p.it then
      if c.pd == nil then
        c.pd = now; c.dirty = true
        cand = cur
      elseif now - c.pd < p.g then
        cand = cur
      end
    end
  elseif c.pd ~= nil then
    c.pd = nil; c.dirty = true
  end
  return cand
end

-- What headroom() needs of tier `name`, derived from the policy once per call and tier: the
-- next tier up's monetary lower bound L (nil: not reachable by spend) and its monetary upper
-- bounds; the lowest monetary `name` may fall to under its margin-relaxed lower bounds (nil: none).
local function headroomSpec(name)
  local spec = E.hr[name]
  if spec then return spec end
  local p = E.p
  spec = { up = nil, upper = {}, floor = nil }
  local ni = p.up[name]
  if ni and ni > 0 then
    for _, cond in ipairs(p.t[ni].c) do
      if cond[1] == 'm' then
        local lo = nil
        if cond[2] == 'gt' then lo = cond[3] + 1
        elseif cond[2] == 'gte' then lo = cond[3]
        else spec.upper[#spec.upper + 1] = cond end
        if lo ~= nil and (spec.up == nil or lo > spec.up) then spec.up = lo end
      end
    end
  end
  -- Downgrade distance against the bounds as relaxed by the margin: those trigger the downgrade.
  local ci = p.ti[name]
  if ci and p.t[ci].x == 0 then
    for _, cond in ipairs(p.t[ci].c) do
      if cond[1] == 'm' then
        local lo = nil
        if cond[2] == 'gt' then lo = cond[4] + 1
        elseif cond[2] == 'gte' then lo = cond[4] end
        if lo ~= nil and (spec.floor == nil or lo > spec.floor) then spec.floor = lo end
      end
    end
  end
  E.hr[name] = spec
  return spec
end

-- Extra spend to reach the next tier up, and how far monetary can fall while `name` still holds
-- (src/policy/headroom.ts says the same in TypeScript).
local function headroom(name, m)
  local spec = headroomSpec(name)
  local up, down = nil, nil
  if spec.up ~= nil then
    local need = spec.up - m
    if need < 0 then need = 0 end
    up = need
    local upper = spec.upper
    for i = 1, #upper do
      if not condHolds(upper[i], m + need, 0, nil, false) then up = nil; break end
    end
  end
  if spec.floor ~= nil then
    down = m - spec.floor
    if down < 0 then down = 0 end
  end
  return up, down
end

-- Next moment the tier could change with no new event, strictly after `now`; nil when none.
local function dueTime(c, now, oldest)
  local p = E.p
  local best = nil
  if oldest ~= nil then best = (oldest + p.W) * p.B end
  local lp = c.lp
  if lp ~= nil then
    local t
    if p.ia >= 0 then
      t = lp + p.ia
      if t > now and (best == nil or t < best) then best = t end
    end
    local rv = p.rv
    for i = 1, #rv do
      t = lp + rv[i]
      if t > now and (best == nil or t < best) then best = t end
      t = t + 1
      if t > now and (best == nil or t < best) then best = t end
    end
  end
  if c.pd ~= nil then
    local t = c.pd + p.g
    if t > now and (best == nil or t < best) then best = t end
  end
  return best
end

-- Set c's timer to d, the exact next due time after `now`. A timer still pending after `now`
-- that is earlier than d is kept: firing early is harmless (nothing can change before the exact
-- due time, so the early firing finds no change and reschedules exactly), and it saves a
-- skiplist update on most purchases, which push the inactivity horizon out.
local function schedule(c, d, now)
  if d == c.due then return end
  if c.due ~= nil and c.due > now and (d == nil or c.due < d) then return end
  c.dirty = true
  if d then
    -- E.minDue stays a lower bound of the due set, so a stale value only costs one extra read.
    if E.minDue == nil or d < E.minDue then E.minDue = d end
  end
  c.due = d
  -- Written to the due set by flushDue, one ZADD (and ZREM) for many customers.
  if not E.dueMarked[c.id] then E.dueMarked[c.id] = true; E.dueIds[#E.dueIds + 1] = c.id end
end

-- Write the timers schedule() moved since the last flush: before anything reads the due set and
-- at the end of the call. One call for many customers instead of a ZADD per event (measured:
-- ~5 % of the engine's time went to those calls).
local function flushDue()
  local ids = E.dueIds
  if #ids == 0 then return end
  local customers = E.customers
  local zadd, zrem = {}, {}
  for i = 1, #ids do
    local id = ids[i]
    local d = customers[id].due
    if d then zadd[#zadd + 1] = fmt(d); zadd[#zadd + 1] = id else zrem[#zrem + 1] = id end
  end
  for from = 1, #zadd, 2000 do rcall('ZADD', E.dueKey, unpack(zadd, from, math.min(from + 1999, #zadd))) end
  for from = 1, #zrem, 1000 do rcall('ZREM', E.dueKey, unpack(zrem, from, math.min(from + 999, #zrem))) end
  E.dueIds = {}
  E.dueMarked = {}
end

local function nextOutboxId()
  if E.outSeq == nil then
    E.outSeq = tonumber(rcall('HGET', E.metaKey, 'os') or '0')
  end
  E.outSeq = E.outSeq + 1
  return '0-' .. fmt(E.outSeq)
end

-- The change record's format (outbox-codec.ts, format 1) for each combination of the nullable
-- numbers present (mask bits: 1 before-snapshot recency and lastPurchaseAt, 2 the after ones,
-- 4 headroom up, 8 headroom down), built once per call.
local RECORD_PARTS = { '[1,%s:%d",%s,%s,%s,"%s","%s",%s,%d,%s,%d,%d,', 1, ',%d,%d,', 2, ',%s,%s,', 4, ',', 8, ']' }

local function recordFormat(mask)
  local f = E.recFormats[mask]
  if f == nil then
    local parts = {}
    for i, part in ipairs(RECORD_PARTS) do
      if type(part) == 'string' then parts[i] = part
      elseif floor(mask / part) % 2 == 1 then
        if part <= 2 then parts[i] = '%d,%d' else parts[i] = '%d' end
      elseif part <= 2 then parts[i] = 'null,null'
      else parts[i] = 'null' end
    end
    f = table.concat(parts)
    E.recFormats[mask] = f
  end
  return f
end

-- Move c to newTier and append the change record to the outbox.
local function emitChange(c, newTier, cause, txId, now, bm, bf, blp, m, f)
  local p = E.p
  local prev = c.tier
  c.seq = c.seq + 1
  c.tier = newTier
  c.ts = now
  c.pd = nil
  c.dirty = true
  -- The boundary is the rule that decided the change: the new tier's on UP / NEW and on a move
  -- into the inactive tier (the old tier's conditions may still hold then), else the old tier's.
  local direction, btier
  if prev == nil or p.rk[prev] == nil then direction, btier = 'NEW', newTier
  elseif p.rk[newTier] > p.rk[prev] then direction, btier = 'UP', newTier
  elseif newTier == p.it then direction, btier = 'DOWN', newTier
  else direction, btier = 'DOWN', prev end
  local up, down = headroom(newTier, m)
  -- One field holding a positional JSON array (format 1, decoded by outbox-codec.ts): a tenth of
  -- the arguments and a third of the memory of one stream field per record field.
  -- Names, rule texts and the version come JSON-encoded with the policy (p.j); ids are encoded
  -- here, the customer's once per call.
  if c.idj == nil then c.idj = jstr(c.id); c.idp = string.sub(c.idj, 1, -2) end
  local j = p.j
  local prevj = 'null'
  if prev ~= nil then prevj = j.n[prev] or cjson.encode(prev) end
  -- One string.format with the numbers inline: formatting the nullable ones separately cost a
  -- format call and an interned string each (measured: the record was ~7 % of the engine's time).
  local a = E.recArgs
  a[1] = c.idp; a[2] = c.seq; a[3] = c.idj; a[4] = prevj; a[5] = j.n[newTier]; a[6] = direction
  a[7] = cause; a[8] = jstr(txId); a[9] = now; a[10] = j.v; a[11] = bm; a[12] = bf
  local k, mask = 12, 0
  if blp ~= nil then mask = 1; a[13] = now - blp; a[14] = blp; k = 14 end
  a[k + 1] = m; a[k + 2] = f; k = k + 2
  local lp = c.lp
  if lp ~= nil then mask = mask + 2; a[k + 1] = now - lp; a[k + 2] = lp; k = k + 2 end
  a[k + 1] = j.n[btier]; a[k + 2] = j.r[btier]; k = k + 2
  if up ~= nil then mask = mask + 4; k = k + 1; a[k] = up end
  if down ~= nil then mask = mask + 8; k = k + 1; a[k] = down end
  local record = sformat(recordFormat(mask), unpack(a, 1, k))
  rcall('XADD', E.outKey, nextOutboxId(), 'c', record)
  E.changes = E.changes + 1
end

-- Evaluate c at `now` with after-aggregates m, f, oldest (the causing event included), emit a
-- change if the tier moves, and reschedule. bm/bf/blp: the before snapshot.
local function evaluate(c, now, cause, txId, m, f, oldest, bm, bf, blp)
  local tier = decide(c, m, f, c.lp, now)
  if tier ~= c.tier then emitChange(c, tier, cause, txId, now, bm, bf, blp, m, f) end
  schedule(c, dueTime(c, now, oldest), now)
end

-- A timer fires at its due time d: evaluation at now = d (semantics: exact effective times).
local function fireTimer(c, d)
  E.fired = E.fired + 1
  local m, f, oldest = aggregates(c, d)
  evaluate(c, d, 'TIME', nil, m, f, oldest, m, f, c.lp)
end

-- Fire the timers of one customer due at or before `now`, oldest first.
local function fireCustomerTimers(c, now)
  while c.due ~= nil and c.due <= now do fireTimer(c, c.due) end
end

-- Fire every timer of the partition due at or before `upTo`, in (due, customerId) order, at most
-- `limit` firings (nil: no limit). Returns true when due timers remain.
local function firePartitionTimers(upTo, limit)
  local fired = 0
  while E.minDue ~= nil and E.minDue <= upTo do
    flushDue()
    local first = rcall('ZRANGE', E.dueKey, 0, 0, 'WITHSCORES')
    if #first == 0 then E.minDue = nil; break end
    local d = tonumber(first[2])
    E.minDue = d
    if d > upTo then break end
    if limit ~= nil and fired >= limit then return true end
    local c = loadCustomer(first[1])
    if c.due ~= d then c.due = d; c.dirty = true end
    fireTimer(c, d)
    fired = fired + 1
  end
  return false
end

-- Apply one transaction to c at `now`. Returns false when it was too old for the window (late).
local function applyTransaction(c, now, txId, kind, amount, eventTime)
  local p = E.p
  local idx = floor(eventTime / p.B)
  if idx < floor(now / p.B) - p.W + 1 then return false end
  local bm, bf, oldest = aggregates(c, now)
  local blp = c.lp
  if oldest == nil or idx < oldest then oldest = idx end
  -- The bucket counts at `now` (not late) and nothing stored has expired, so the after-aggregates
  -- are the before ones plus this event.
  if kind == 'p' then
    addToBucket(c, idx, amount, 1)
    if c.lp == nil or eventTime > c.lp then c.lp = eventTime end
    evaluate(c, now, 'TRANSACTION', txId, bm + amount, bf + 1, oldest, bm, bf, blp)
  else
    addToBucket(c, idx, -amount, 0)
    evaluate(c, now, 'REFUND', txId, bm - amount, bf, oldest, bm, bf, blp)
  end
  return true
end

-- The sub-hash count check against the meta's 'cs' and 'wo' (nil when absent). Returns nil or
-- an error reply table. A partition written before customers were packed into sub-hashes (a
-- watermark but no 'cs') reports shard count 0.
local function checkShards(cs, wo)
  if cs == nil then
    if wo ~= nil then return { -3, '0' } end
  elseif tonumber(cs) ~= E.shards then
    return { -3, cs }
  end
  return nil
end

-- Layout / policy checks against the partition meta. Returns nil or an error reply table.
local function checkMeta(meta, partitionCount)
  local pv = meta['pv']
  if pv ~= nil and pv ~= E.p.v then return { -1, pv } end
  local pc = meta['pc']
  if partitionCount ~= '' and pc ~= nil and pc ~= partitionCount then return { -2, pc } end
  return checkShards(meta['cs'], meta['wo'])
end

-- Read the earliest due time once per call; schedule() keeps it a lower bound afterwards.
local function loadMinDue()
  local first = rcall('ZRANGE', E.dueKey, 0, 0, 'WITHSCORES')
  if #first > 0 then E.minDue = tonumber(first[2]) end
end

local function readMeta()
  local raw = rcall('HGETALL', E.metaKey)
  local meta = {}
  for i = 1, #raw, 2 do meta[raw[i]] = raw[i + 1] end
  return meta
end
