import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import type { PyramidConfig } from '../config/schema.js';
import { PyramidError } from '../errors.js';

/**
 * A Redis client for the scorer. The offline queue is off, so while Redis is down every command
 * fails at once with a retriable REDIS_UNAVAILABLE (the batch loop backs off and retries the same
 * batch) instead of piling up silently; the client keeps reconnecting in the background.
 */
export async function connectRedis(config: PyramidConfig['redis']): Promise<Redis> {
  const url = new URL(config.url);
  const redis = new Redis(config.url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) => Math.min(2_000, 50 * 2 ** Math.min(attempt, 6)),
    ...(url.protocol === 'rediss:' ? { tls: config.tlsCaFile === undefined ? {} : { ca: readFileSync(config.tlsCaFile, 'utf8') } } : {}),
  });
  // Connection errors are reported through commands and the readiness probe; an unhandled
  // 'error' event would crash the process.
  redis.on('error', () => undefined);
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new PyramidError('REDIS_UNAVAILABLE', `cannot connect to Redis at ${url.host}: ${(err as Error).message}`, { retriable: true, cause: err });
  }
  return redis;
}
