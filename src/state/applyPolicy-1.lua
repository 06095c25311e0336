#!lua
--[[
  Store the policy in force for a key prefix, unless it changes the content of the version in
  force (a changed policy needs a new version: events carry the version, and a version must mean
  one set of rules).

  Input:
    KEYS[1] the group policy hash (GROUP_POLICY in layout.ts)
    ARGV[1] version  ARGV[2] content hash  ARGV[3] file content  ARGV[4] source  ARGV[5] applied at

  Output:
    { 0, previous version or '' }   stored
    { 1 }                           this version with this content is already in force
    { -1, stored content hash }     same version, other content: nothing written
]]
local key = KEYS[1]
local stored = redis.call('HMGET', key, 'v', 'h')
if stored[1] == ARGV[1] then
  if stored[2] == ARGV[2] then return { 1 } end
  return { -1, stored[2] or '' }
end
redis.call('HSET', key, 'v', ARGV[1], 'h', ARGV[2], 'c', ARGV[3], 's', ARGV[4], 'a', ARGV[5])
return { 0, stored[1] or '' }
