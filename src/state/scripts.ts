import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Cluster, Redis } from 'ioredis';
import { PackedArgs, PackedScriptCommand } from './packed-args.js';

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
 *
 * `ordered`: always EVAL (the script text travels with every call). For a call whose position on
 * the connection matters, because later commands are sent before its reply: a NOSCRIPT fallback
 * would re-send it after them, out of order.
 */
export async function runScript(client: Redis | Cluster, script: LuaScript, keys: string[], args: (string | number)[] | PackedArgs, options: { ordered?: boolean } = {}): Promise<unknown> {
  if (keys.length !== script.numberOfKeys) throw new Error(`${script.name} takes ${script.numberOfKeys} keys, got ${keys.length}`);
  const call = (name: 'eval' | 'evalsha'): Promise<unknown> => {
    if (!(args instanceof PackedArgs)) return name === 'eval' ? client.eval(script.lua, keys.length, ...keys, ...args) : client.evalsha(script.sha, keys.length, ...keys, ...args);
    const command = new PackedScriptCommand(name, [name === 'eval' ? script.lua : script.sha, keys.length, ...keys], args);
    void client.sendCommand(command);
    return command.promise;
  };
  if (options.ordered === true) return call('eval');
  try {
    return await call('evalsha');
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return call('eval');
  }
}
