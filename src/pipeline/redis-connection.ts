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
  // 'error' event would crash the process. The first one is kept: a failed connect() itself only
  // says "Connection is closed.", while the event names the cause (ECONNREFUSED, auth, TLS).
  let firstError: Error | undefined;
  redis.on('error', (err: Error) => {
    firstError ??= err;
  });
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    const cause = firstError ?? (err as Error);
    throw new PyramidError('REDIS_UNAVAILABLE', `cannot connect to Redis at ${url.host}: ${cause.message}`, { retriable: true, cause });
  }
  return redis;
}
