import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPyramidError, type PyramidError } from '../../src/errors.js';
import { connectRedis } from '../../src/pipeline/redis-connection.js';
import { freePort, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';

async function connectError(url: string): Promise<PyramidError> {
  const outcome = await connectRedis({ url }).then(
    (redis) => {
      redis.disconnect();
      return new Error(`connected to ${url}`);
    },
    (err: unknown) => err,
  );
  if (isPyramidError(outcome)) return outcome;
  throw outcome;
}

describe('connectRedis fails at connect time, naming what is wrong', () => {
  let server: RedisServerHandle;
  const password = 's3cret-for-test';
  beforeAll(async () => {
    // 16 databases is redis-server's default; said here because the test is about the range.
    server = await startRedisServer({ args: ['--databases', '16'] });
    const admin = new Redis(server.url);
    await admin.acl('SETUSER', 'scorer', 'on', `>${password}`, '~*', '+@all');
    admin.disconnect();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('database 99 of 16: refused, naming the database (ioredis stayed on database 0 and every write went there)', async () => {
    const err = await connectError(`redis://scorer:${password}@127.0.0.1:${server.port}/99`);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.retriable).toBe(false);
    expect(err.message).toBe(`Redis at 127.0.0.1:${server.port} cannot select database 99 (PYRAMID_REDIS_URL): ERR DB index is out of range`);
  });

  it('selects the database of the URL', async () => {
    const redis = await connectRedis({ url: `redis://scorer:${password}@127.0.0.1:${server.port}/15` });
    try {
      expect(await redis.client('INFO')).toMatch(/ db=15 /);
    } finally {
      redis.disconnect();
    }
  });

  it('a wrong password is not retriable and is never echoed', async () => {
    const err = await connectError(`redis://scorer:wrong-one@127.0.0.1:${server.port}/0`);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.retriable).toBe(false);
    expect(err.message).toMatch(new RegExp(`^Redis at 127\\.0\\.0\\.1:${server.port} refused the credentials in PYRAMID_REDIS_URL: WRONGPASS`));
    expect(err.message).not.toContain('wrong-one');
  });

  it('an unreachable Redis stays retriable', async () => {
    const port = await freePort();
    const err = await connectError(`redis://127.0.0.1:${port}`);
    expect(err.code).toBe('REDIS_UNAVAILABLE');
    expect(err.retriable).toBe(true);
    expect(err.message).toBe(`cannot connect to Redis at 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`);
  });
});
