import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Cluster, Redis } from 'ioredis';

/** A Lua script ready to run: its text, key count and SHA1. */
export interface LuaScript {
  name: string;
  numberOfKeys: number;
  lua: string;
  sha: string;
}

const HERE = dirname(fileURLToPath(import.meta.url));
const FILE_NAME = /^([A-Za-z]+)-(\d+)\.lua$/;

/**
 * Load `verbName-<numKeys>.lua` from this folder (bullmq style): the key count comes from the
 * file name, so a script and its caller cannot disagree about it.
 */
export function loadScript(fileName: string): LuaScript {
  const match = FILE_NAME.exec(fileName);
  if (match === null) throw new Error(`Lua script ${fileName} is not named verbName-<numKeys>.lua`);
  const lua = readFileSync(join(HERE, fileName), 'utf8');
  return {
    name: match[1] ?? fileName,
    numberOfKeys: Number(match[2]),
    lua,
    sha: createHash('sha1').update(lua).digest('hex'),
  };
}

/**
 * EVALSHA, falling back to EVAL once when the server does not know the script yet (new server,
 * SCRIPT FLUSH, failover to a replica that never saw it). EVAL also caches it for next time.
 */
export async function runScript(client: Redis | Cluster, script: LuaScript, keys: string[], args: (string | number)[]): Promise<unknown> {
  if (keys.length !== script.numberOfKeys) throw new Error(`${script.name} takes ${script.numberOfKeys} keys, got ${keys.length}`);
  try {
    return await client.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return client.eval(script.lua, keys.length, ...keys, ...args);
  }
}

/**
 * EVAL, always with the script's text: for a script the caller pipelines further commands behind
 * (a partition's commit, then the next chunk's load). Redis runs one connection's commands in
 * order, but {@link runScript}'s fallback sends the script a second time after its NOSCRIPT reply,
 * by which time the commands sent behind it have run without seeing its writes (a dedupe claim
 * missed, a duplicate counted twice), on every new, restarted or flushed server. Redis caches the
 * script by its SHA1 on EVAL as well, so only the text travels again.
 */
export async function evalScript(client: Redis | Cluster, script: LuaScript, keys: string[], args: (string | number)[]): Promise<unknown> {
  if (keys.length !== script.numberOfKeys) throw new Error(`${script.name} takes ${script.numberOfKeys} keys, got ${keys.length}`);
  return client.eval(script.lua, keys.length, ...keys, ...args);
}
