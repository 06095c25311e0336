import type { PyramidConfig } from './schema.js';

const REDACTED = '[redacted]';

/** A Redis URL with its ACL password blanked; host, port, user and database stay readable. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = REDACTED;
    return parsed.toString();
  } catch {
    return REDACTED;
  }
}

/**
 * The configuration as it may be logged at start-up: every secret (SASL and registry passwords,
 * the Redis ACL password) replaced, everything an operator needs to check the wiring kept.
 */
export function redactedConfig(config: PyramidConfig): PyramidConfig {
  return {
    ...config,
    kafka: {
      ...config.kafka,
      tls: { ...config.kafka.tls },
      brokers: [...config.kafka.brokers],
      sasl: config.kafka.sasl === undefined ? undefined : { ...config.kafka.sasl, password: REDACTED },
    },
    redis: { ...config.redis, url: redactRedisUrl(config.redis.url) },
    registry: {
      ...config.registry,
      password: config.registry.password === undefined ? undefined : REDACTED,
    },
  };
}
