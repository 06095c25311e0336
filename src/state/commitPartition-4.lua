#!lua
--[[
  Commit one chunk of a partition's state, atomically, fenced: nothing is written unless the
  partition is still of this format, still owned by the caller, at the commit the caller last
  wrote (so a zombie, a second owner or a caller whose earlier commit was lost can never write)
  and still on the policy the caller's state was computed under (so a chunk scored under one
  policy never lands on state that switched to another; a switching commit names the policy it
  switches from here and sets the new one in its meta fields).

  Input:
    KEYS[1] meta     partition meta hash
    KEYS[2] due      timer sorted set (customer id -> fire time)
    KEYS[3] tx       dedupe claims sorted set (transaction id -> expiry)
    KEYS[4] outbox   stream of tier changes (field 'c') and signals (field 's')
    ARGV[1] format version
    ARGV[2] owner token
    ARGV[3] the commit number the caller last read or wrote (meta 'cn'); this commit is ARGV[3] + 1
    ARGV[4] customer sub-hash key prefix (all keys share the partition's hash tag)
    ARGV[5] claims expiring at or before this instant are dropped ('' for none)
    ARGV[6] outbox sequence number of the first outbox entry below (stream id '0-<n>', n counting up)
    ARGV[7] the policy content hash the caller read or wrote (meta 'ph')
    then sections, each a count n followed by its values:
      meta fields       n pairs   field, value
      customer groups   n groups  shard, k, then k pairs customer id, value
      timers set        n pairs   fire time, customer id
      timers cleared    n         customer id
      claims            n pairs   expiry, transaction id
      outbox entries    n pairs   field ('c' tier change, 's' signal), record
      ranked (optional) n, then the monetary and the frequency ranked-set key (same hash tag),
                        then n triples customer id, monetary, frequency; monetary '' removes
                        the customer from both sets (not in the ranked population); frequency ''
                        leaves the frequency set alone (the policy ranks by monetary only)

  Output:
    { 0 } committed
    or { -1, stored format version, stored owner, stored commit, stored policy hash } (nothing written)
    (see script-errors.ts)
]]
local argv = ARGV
local meta = KEYS[1]
local stored = redis.call('HMGET', meta, 'fv', 'ow', 'cn', 'ph')
if stored[1] ~= argv[1] or stored[2] ~= argv[2] or stored[3] ~= argv[3] or stored[4] ~= argv[7] then
  return { -1, stored[1] or '', stored[2] or '', stored[3] or '', stored[4] or '' }
end

local unpack, rcall, tonumber = unpack, redis.call, tonumber
-- Lua's unpack is bounded by its C stack (about 8000 values): write in slices.
local SLICE = 2000

local function sliced(command, key, from, to)
  for i = from, to, SLICE do rcall(command, key, unpack(argv, i, math.min(i + SLICE - 1, to))) end
end

-- The commit number moves on every commit, also one that writes nothing else.
local at = 8
local n = tonumber(argv[at])
rcall('HSET', meta, 'cn', string.format('%d', tonumber(argv[3]) + 1), unpack(argv, at + 1, at + 2 * n))
at = at + 2 * n + 1

n = tonumber(argv[at])
at = at + 1
for _ = 1, n do
  local key, k = argv[4] .. argv[at], tonumber(argv[at + 1])
  sliced('HSET', key, at + 2, at + 1 + 2 * k)
  at = at + 2 + 2 * k
end

n = tonumber(argv[at])
if n > 0 then sliced('ZADD', KEYS[2], at + 1, at + 2 * n) end
at = at + 2 * n + 1

n = tonumber(argv[at])
if n > 0 then sliced('ZREM', KEYS[2], at + 1, at + n) end
at = at + n + 1

n = tonumber(argv[at])
if n > 0 then sliced('ZADD', KEYS[3], at + 1, at + 2 * n) end
at = at + 2 * n + 1

n = tonumber(argv[at])
local seq = tonumber(argv[6])
for i = 1, n do rcall('XADD', KEYS[4], string.format('0-%d', seq + i - 1), argv[at + 2 * i - 1], argv[at + 2 * i]) end
at = at + 2 * n + 1

n = tonumber(argv[at] or '0')
if n > 0 then
  -- One ZADD / ZREM per set and slice, not one call per customer.
  local monetaryKey, frequencyKey = argv[at + 1], argv[at + 2]
  local m, f, gone = {}, {}, {}
  at = at + 3
  for _ = 1, n do
    local id, value = argv[at], argv[at + 1]
    if value == '' then
      gone[#gone + 1] = id
    else
      m[#m + 1] = value
      m[#m + 1] = id
      if argv[at + 2] ~= '' then
        f[#f + 1] = argv[at + 2]
        f[#f + 1] = id
      end
    end
    at = at + 3
  end
  local function each(command, key, list)
    for i = 1, #list, SLICE do rcall(command, key, unpack(list, i, math.min(i + SLICE - 1, #list))) end
  end
  each('ZADD', monetaryKey, m)
  each('ZADD', frequencyKey, f)
  each('ZREM', monetaryKey, gone)
  each('ZREM', frequencyKey, gone)
end

if argv[5] ~= '' then rcall('ZREMRANGEBYSCORE', KEYS[3], '-inf', argv[5]) end
return { 0 }
