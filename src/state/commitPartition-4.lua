#!lua
--[[
  Commit one chunk of a partition's state, atomically, fenced: nothing is written unless the
  partition is still of this format, still owned by the caller and at the commit the caller last
  wrote (so a zombie, a second owner or a caller whose earlier commit was lost can never write).

  Input:
    KEYS[1] meta     partition meta hash
    KEYS[2] due      timer sorted set (customer id -> fire time)
    KEYS[3] tx       dedupe claims sorted set (transaction id -> expiry)
    KEYS[4] outbox   tier-change stream
    ARGV[1] format version
    ARGV[2] owner token
    ARGV[3] the commit number the caller last read or wrote (meta 'cn'); this commit is ARGV[3] + 1
    ARGV[4] customer sub-hash key prefix (all keys share the partition's hash tag)
    ARGV[5] claims expiring at or before this instant are dropped ('' for none)
    then five sections, each a count n followed by its values:
      meta fields       n pairs  field, value
      customers         n triples shard, customer id, value (grouped by shard by the caller)
      timers set        n pairs  fire time, customer id
      timers cleared    n        customer id
      claims            n pairs  expiry, transaction id
      outbox entries    n pairs  stream id, record

  Output:
    { 0 } committed
    or { -1, stored format version, stored owner, stored commit } (nothing written)
    (see script-errors.ts)
]]
local argv = ARGV
local meta = KEYS[1]
local stored = redis.call('HMGET', meta, 'fv', 'ow', 'cn')
if stored[1] ~= argv[1] or stored[2] ~= argv[2] or stored[3] ~= argv[3] then
  return { -1, stored[1] or '', stored[2] or '', stored[3] or '' }
end

local unpack, rcall = unpack, redis.call
-- Lua's unpack is bounded by its C stack (about 8000 values): write in slices.
local SLICE = 2000

local at = 6
local function section(width, write)
  local n = tonumber(argv[at])
  local from = at + 1
  at = from + n * width
  if n > 0 then write(from, at - 1) end
end

-- The commit number moves on every commit, also one that writes nothing else.
local metaCount = tonumber(argv[6])
rcall('HSET', meta, 'cn', string.format('%d', tonumber(argv[3]) + 1), unpack(argv, 7, 6 + metaCount * 2))
at = 7 + metaCount * 2
section(3, function(from, to)
  local shard, fields = nil, {}
  local function flush()
    for i = 1, #fields, SLICE do rcall('HSET', argv[4] .. shard, unpack(fields, i, math.min(i + SLICE - 1, #fields))) end
    fields = {}
  end
  for i = from, to, 3 do
    if argv[i] ~= shard then
      if shard ~= nil then flush() end
      shard = argv[i]
    end
    fields[#fields + 1] = argv[i + 1]
    fields[#fields + 1] = argv[i + 2]
  end
  flush()
end)
section(2, function(from, to)
  for i = from, to, SLICE do rcall('ZADD', KEYS[2], unpack(argv, i, math.min(i + SLICE - 1, to))) end
end)
section(1, function(from, to)
  for i = from, to, SLICE do rcall('ZREM', KEYS[2], unpack(argv, i, math.min(i + SLICE - 1, to))) end
end)
section(2, function(from, to)
  for i = from, to, SLICE do rcall('ZADD', KEYS[3], unpack(argv, i, math.min(i + SLICE - 1, to))) end
end)
section(2, function(from, to)
  for i = from, to, 2 do rcall('XADD', KEYS[4], argv[i], 'c', argv[i + 1]) end
end)
if argv[5] ~= '' then rcall('ZREMRANGEBYSCORE', KEYS[3], '-inf', argv[5]) end
return { 0 }
