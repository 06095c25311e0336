--[[
  The tier engine shared by the partition scripts: customer load/store, rolling aggregates,
  evaluation with hysteresis (docs: /work/prompts/semantics.md, mirrored by src/policy), due
  timers and the outbox. Integers only; every number is written back with string.format('%d')
  because tostring() in Lua 5.1 switches to exponent notation above 14 digits.

  Expects the including script to fill E (below) before use:
    E.p policy (ScriptPolicy, src/state/script-policy.ts), E.cprefix, E.dueKey, E.outKey, E.metaKey.
]]
local E = { customers = {}, order = {}, changes = 0, fired = 0 }

local function fmt(n)
  return string.format('%d', n)
end

local function optfmt(n)
  if n == nil then return '' end
  return string.format('%d', n)
end

-- Customer hash fields: b buckets "idx:m:f,..." ascending; l lastPurchaseAt; t tier; s seq;
-- ts tierSince; pd pendingDowngradeSince. Short names keep the hash a small listpack.
local function loadCustomer(id)
  local c = E.customers[id]
  if c then return c end
  local raw = redis.call('HGETALL', E.cprefix .. id)
  c = { id = id, buckets = {}, seq = 0, dirty = false }
  for i = 1, #raw, 2 do
    local k, v = raw[i], raw[i + 1]
    if k == 'b' then
      for idx, m, f in string.gmatch(v, '(%-?%d+):(%-?%d+):(%d+)') do
        c.buckets[tonumber(idx)] = { tonumber(m), tonumber(f) }
      end
    elseif k == 'l' then c.lp = tonumber(v)
    elseif k == 't' then c.tier = v
    elseif k == 's' then c.seq = tonumber(v)
    elseif k == 'ts' then c.ts = tonumber(v)
    elseif k == 'pd' then c.pd = tonumber(v); c.hadPd = true
    end
  end
  if #raw > 0 then
    local d = redis.call('ZSCORE', E.dueKey, id)
    if d then c.due = tonumber(d) end
  end
  E.customers[id] = c
  E.order[#E.order + 1] = id
  return c
end

local function storeCustomers()
  for _, id in ipairs(E.order) do
    local c = E.customers[id]
    if c.dirty then
      local idxs = {}
      for idx in pairs(c.buckets) do idxs[#idxs + 1] = idx end
      table.sort(idxs)
      local parts = {}
      for i, idx in ipairs(idxs) do
        local b = c.buckets[idx]
        parts[i] = fmt(idx) .. ':' .. fmt(b[1]) .. ':' .. fmt(b[2])
      end
      local args = { 'b', table.concat(parts, ','), 't', c.tier, 's', fmt(c.seq), 'ts', fmt(c.ts) }
      if c.lp then args[#args + 1] = 'l'; args[#args + 1] = fmt(c.lp) end
      if c.pd then args[#args + 1] = 'pd'; args[#args + 1] = fmt(c.pd) end
      redis.call('HSET', E.cprefix .. id, unpack(args))
      if c.hadPd and not c.pd then redis.call('HDEL', E.cprefix .. id, 'pd') end
    end
  end
end

-- Monetary, frequency and the oldest counted bucket at `now`.
local function aggregates(c, now)
  local start = math.floor(now / E.p.B) - E.p.W + 1
  local m, f, oldest = 0, 0, nil
  for idx, b in pairs(c.buckets) do
    if idx >= start then
      m = m + b[1]
      f = f + b[2]
      if oldest == nil or idx < oldest then oldest = idx end
    end
  end
  return m, f, oldest
end

-- Buckets that no longer count at `now` can never count again (the clock only moves forward).
local function prune(c, now)
  local start = math.floor(now / E.p.B) - E.p.W + 1
  for idx in pairs(c.buckets) do
    if idx < start then c.buckets[idx] = nil; c.dirty = true end
  end
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
  for _, cond in ipairs(tier.c) do
    if not condHolds(cond, m, f, rec, relax) then return false end
  end
  return true
end

-- Raw evaluation: tier name and the rule that decided it (0 inactive, -1 fallback, i tiers[i]).
local function rawEval(m, f, lp, now)
  local p = E.p
  if p.ia >= 0 and lp ~= nil and now - lp >= p.ia then return p.it, 0 end
  local rec = nil
  if lp ~= nil then rec = now - lp end
  for i, tier in ipairs(p.t) do
    if tierHolds(tier, m, f, rec, false) then return tier.n, i end
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

-- Extra spend to reach the next tier up, and how far monetary can fall while `name` still holds
-- (src/policy/headroom.ts says the same in TypeScript).
local function headroom(name, m)
  local p = E.p
  local up, down = nil, nil
  local ni = p.up[name]
  if ni and ni > 0 then
    local need, bounded = 0, false
    for _, cond in ipairs(p.t[ni].c) do
      if cond[1] == 'm' then
        if cond[2] == 'gt' then bounded = true; need = math.max(need, cond[3] + 1 - m)
        elseif cond[2] == 'gte' then bounded = true; need = math.max(need, cond[3] - m) end
      end
    end
    if bounded then
      for _, cond in ipairs(p.t[ni].c) do
        if cond[1] == 'm' and (cond[2] == 'lt' or cond[2] == 'lte') and not condHolds(cond, m + need, 0, nil, false) then
          bounded = false
        end
      end
    end
    if bounded then up = need end
  end
  -- Downgrade distance against the bounds as relaxed by the margin: those trigger the downgrade.
  local ci = p.ti[name]
  if ci and p.t[ci].x == 0 then
    local floor = nil
    for _, cond in ipairs(p.t[ci].c) do
      if cond[1] == 'm' then
        local lo = nil
        if cond[2] == 'gt' then lo = cond[4] + 1
        elseif cond[2] == 'gte' then lo = cond[4] end
        if lo ~= nil and (floor == nil or lo > floor) then floor = lo end
      end
    end
    if floor ~= nil then down = math.max(0, m - floor) end
  end
  return up, down
end

-- Next moment the tier could change with no new event, strictly after `now`; nil when none.
local function dueTime(c, now, oldest)
  local p = E.p
  local best = nil
  local function consider(t)
    if t > now and (best == nil or t < best) then best = t end
  end
  if oldest ~= nil then consider((oldest + p.W) * p.B) end
  local lp = c.lp
  if lp ~= nil then
    if p.ia >= 0 then consider(lp + p.ia) end
    for _, v in ipairs(p.rv) do
      consider(lp + v)
      consider(lp + v + 1)
    end
  end
  if c.pd ~= nil then consider(c.pd + p.g) end
  return best
end

local function schedule(c, d)
  if d == c.due then return end
  if d then
    redis.call('ZADD', E.dueKey, d, c.id)
    -- E.minDue stays a lower bound of the due set, so a stale value only costs one extra read.
    if E.minDue == nil or d < E.minDue then E.minDue = d end
  else
    redis.call('ZREM', E.dueKey, c.id)
  end
  c.due = d
end

local function nextOutboxId()
  if E.outSeq == nil then
    E.outSeq = tonumber(redis.call('HGET', E.metaKey, 'os') or '0')
  end
  E.outSeq = E.outSeq + 1
  return '0-' .. fmt(E.outSeq)
end

local function recencyOf(lp, now)
  if lp == nil then return nil end
  return now - lp
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
  redis.call('XADD', E.outKey, nextOutboxId(),
    'eventId', c.id .. ':' .. fmt(c.seq),
    'customerId', c.id,
    'previousTier', prev or '',
    'newTier', newTier,
    'direction', direction,
    'cause', cause,
    'transactionId', txId or '',
    'effectiveAt', fmt(now),
    'policyVersion', p.v,
    'before.monetary', fmt(bm),
    'before.frequency', fmt(bf),
    'before.recencyMs', optfmt(recencyOf(blp, now)),
    'before.lastPurchaseAt', optfmt(blp),
    'after.monetary', fmt(m),
    'after.frequency', fmt(f),
    'after.recencyMs', optfmt(recencyOf(c.lp, now)),
    'after.lastPurchaseAt', optfmt(c.lp),
    'boundary.tier', btier,
    'boundary.rule', p.rt[btier],
    'headroom.toNextTierUp', optfmt(up),
    'headroom.toDowngrade', optfmt(down))
  E.changes = E.changes + 1
end

-- Evaluate c at `now` (aggregates already include the causing event), emit a change if the tier
-- moves, drop buckets that left the window and reschedule. bm/bf/blp: the before snapshot.
local function evaluate(c, now, cause, txId, bm, bf, blp)
  local m, f, oldest = aggregates(c, now)
  if bm == nil then bm, bf, blp = m, f, c.lp end
  local tier = decide(c, m, f, c.lp, now)
  if tier ~= c.tier then emitChange(c, tier, cause, txId, now, bm, bf, blp, m, f) end
  prune(c, now)
  schedule(c, dueTime(c, now, oldest))
end

-- A timer fires at its due time d: evaluation at now = d (semantics: exact effective times).
local function fireTimer(c, d)
  E.fired = E.fired + 1
  evaluate(c, d, 'TIME', nil)
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
    local first = redis.call('ZRANGE', E.dueKey, 0, 0, 'WITHSCORES')
    if #first == 0 then E.minDue = nil; break end
    local d = tonumber(first[2])
    E.minDue = d
    if d > upTo then break end
    if limit ~= nil and fired >= limit then return true end
    local c = loadCustomer(first[1])
    c.due = d
    fireTimer(c, d)
    fired = fired + 1
  end
  return false
end

-- Apply one transaction to c at `now`. Returns false when it was too old for the window (late).
local function applyTransaction(c, now, txId, kind, amount, eventTime)
  local p = E.p
  local idx = math.floor(eventTime / p.B)
  if idx < math.floor(now / p.B) - p.W + 1 then return false end
  local bm, bf = aggregates(c, now)
  local blp = c.lp
  local b = c.buckets[idx]
  if b == nil then b = { 0, 0 }; c.buckets[idx] = b end
  local cause
  if kind == 'p' then
    b[1] = b[1] + amount
    b[2] = b[2] + 1
    if c.lp == nil or eventTime > c.lp then c.lp = eventTime end
    cause = 'TRANSACTION'
  else
    b[1] = b[1] - amount
    cause = 'REFUND'
  end
  c.dirty = true
  evaluate(c, now, cause, txId, bm, bf, blp)
  return true
end

-- Layout / policy checks against the partition meta. Returns nil or an error reply table.
local function checkMeta(meta, partitionCount)
  local pv = meta['pv']
  if pv ~= nil and pv ~= E.p.v then return { -1, pv } end
  local pc = meta['pc']
  if partitionCount ~= '' and pc ~= nil and pc ~= partitionCount then return { -2, pc } end
  return nil
end

-- Read the earliest due time once per call; schedule() keeps it a lower bound afterwards.
local function loadMinDue()
  local first = redis.call('ZRANGE', E.dueKey, 0, 0, 'WITHSCORES')
  if #first > 0 then E.minDue = tonumber(first[2]) end
end

local function readMeta()
  local raw = redis.call('HGETALL', E.metaKey)
  local meta = {}
  for i = 1, #raw, 2 do meta[raw[i]] = raw[i + 1] end
  return meta
end
