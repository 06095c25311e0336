import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { PackedArgs } from '../../src/state/packed-args.js';
import { runScript, type LuaScript } from '../../src/state/scripts.js';
import { uniqueName } from '../helpers/unique.js';

/** Returns its key and arguments as Redis received them. */
const ECHO_LUA = `-- packed-args test ${uniqueName('echo')}\nlocal out = { KEYS[1] }\nfor i = 1, #ARGV do out[#out + 1] = ARGV[i] end\nreturn out`;
const ECHO: LuaScript = { name: 'echo', numberOfKeys: 1, lua: ECHO_LUA, sha: createHash('sha1').update(ECHO_LUA).digest('hex') };

describe('script arguments encoded as they are added (PackedArgs)', () => {
  const redis = new Redis(inject('redisUrl'));
  afterAll(() => redis.disconnect());

  const values: (string | number)[] = ['plain', '', 'ünïcødé 客户 🙂', 'with\r\nline break', 0, -12, 1_764_000_000_123, 2 ** 53 - 1, 'x'.repeat(10_000)];

  function packed(): { args: PackedArgs; expected: string[] } {
    const args = new PackedArgs();
    const count = args.reserve();
    for (const value of values) args.push(value);
    args.fill(count, values.length);
    return { args, expected: [String(values.length), ...values.map(String)] };
  }

  it('reach the script exactly as the same arguments sent one by one, through EVALSHA and its NOSCRIPT fallback', async () => {
    const key = uniqueName('packed');
    const { args, expected } = packed();
    // The script is unknown to the server at first: EVALSHA fails, EVAL follows with the same arguments.
    expect(await runScript(redis, ECHO, [key], args)).toEqual([key, ...expected]);
    expect(await runScript(redis, ECHO, [key], packed().args)).toEqual([key, ...expected]);
    expect(await runScript(redis, ECHO, [key], [String(values.length), ...values])).toEqual([key, ...expected]);
  });

  it('an all-ASCII list (written as Latin-1 bytes) and one with a single non-ASCII character (written as UTF-8) both arrive intact', async () => {
    const key = uniqueName('packed-ascii');
    const ascii = ['a', '', 'b|1|2', 123, 'x'.repeat(5_000)];
    for (const list of [ascii, [...ascii, 'é']]) {
      const args = new PackedArgs();
      for (const value of list) args.push(value);
      expect(await runScript(redis, ECHO, [key], args)).toEqual([key, ...list.map(String)]);
    }
  });

  it('an ordered call (always EVAL) gets them too, in order with the commands around it', async () => {
    const key = uniqueName('packed-ordered');
    const { args, expected } = packed();
    const [before, echoed, after] = await Promise.all([redis.set(key, 'a'), runScript(redis, ECHO, [key], args, { ordered: true }), redis.get(key)]);
    expect([before, echoed, after]).toEqual(['OK', [key, ...expected], 'a']);
  });
});
