import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import type { PyramidConfig } from '../config/schema.js';
import { PyramidError } from '../errors.js';

/** Replies that mean the credentials are wrong: retrying cannot help, the operator must act. */
const AUTH_REPLY = /^(WRONGPASS|NOAUTH|NOPERM)\b|invalid password|no password is set/i;

/** The database a Redis URL's path selects (`/3`), or undefined for none (the schema allows only digits). */
function databaseOf(url: URL): number | undefined {
  const digits = url.pathname.replace(/^\//, '');
  return digits === '' ? undefined : Number(digits);
}

/**
 * A Redis client for the scorer. The offline queue is off, so while Redis is down every command
 * fails at once with a retriable REDIS_UNAVAILABLE (the batch loop backs off and retries the same
 * batch) instead of piling up silently; the client keeps reconnecting in the background.
 *
 * Everything that can be wrong at connect time fails here, naming it: Redis unreachable
 * (retriable), credentials refused, and a database the server does not have (both not retriable).
 *
 * @throws PyramidError `REDIS_UNAVAILABLE` (retriable) or `CONFIG_INVALID` (AUTH or SELECT refused).
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
    if (AUTH_REPLY.test(cause.message)) {
      throw new PyramidError('CONFIG_INVALID', `Redis at ${url.host} refused the credentials in PYRAMID_REDIS_URL: ${cause.message}`, { cause });
    }
    throw new PyramidError('REDIS_UNAVAILABLE', `cannot connect to Redis at ${url.host}: ${cause.message}`, { retriable: true, cause });
  }
  const db = databaseOf(url);
  if (db !== undefined) {
    // ioredis sends the URL's SELECT itself once connected but only emits its failure as an
    // 'error' event and stays on database 0, so /99 on a 16-database server wrote to database 0.
    // Selecting again here makes the refusal an answer to a command start-up waits for.
    try {
      await redis.select(db);
    } catch (err) {
      redis.disconnect();
      throw new PyramidError('CONFIG_INVALID', `Redis at ${url.host} cannot select database ${db} (PYRAMID_REDIS_URL): ${(err as Error).message}`, { cause: err });
    }
  }
  return redis;
}
