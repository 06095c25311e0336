import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { redactedConfig, redactUrlPassword } from '../../src/config/redact.js';
import { createLogger } from '../../src/logger.js';

const dir = mkdtempSync(join(tmpdir(), 'pyramid-redact-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const policyFile = join(dir, 'policy.yaml');
writeFileSync(policyFile, 'version: "1"\n');

const SECRETS = ['sasl-secret-1', 'acl-secret-2', 'registry-secret-3', 'registry-url-secret-4'];

const config = loadConfig({
  PYRAMID_KAFKA_BROKERS: 'k:9092',
  PYRAMID_KAFKA_SASL_MECHANISM: 'scram-sha-256',
  PYRAMID_KAFKA_SASL_USERNAME: 'svc',
  PYRAMID_KAFKA_SASL_PASSWORD: SECRETS[0] as string,
  PYRAMID_REDIS_URL: `rediss://pyramid:${SECRETS[1]}@redis.internal:6380/0`,
  PYRAMID_REGISTRY_URL: `https://reg:${SECRETS[3]}@registry.internal`,
  PYRAMID_REGISTRY_USERNAME: 'reg',
  PYRAMID_REGISTRY_PASSWORD: SECRETS[2] as string,
  PYRAMID_POLICY_FILE: policyFile,
});

function captureLog(write: (logger: ReturnType<typeof createLogger>) => void): string {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  write(createLogger({ destination, level: 'info' }));
  return chunks.join('');
}

describe('redactedConfig', () => {
  it('blanks every secret and keeps the wiring readable', () => {
    const safe = redactedConfig(config);
    const text = JSON.stringify(safe);
    for (const secret of SECRETS) expect(text).not.toContain(secret);
    expect(safe.redis.url).toBe('rediss://pyramid:%5Bredacted%5D@redis.internal:6380/0');
    expect(safe.kafka.sasl?.username).toBe('svc');
    expect(safe.registry.username).toBe('reg');
    expect(safe.registry.url).toBe('https://reg:%5Bredacted%5D@registry.internal/');
    expect(config.kafka.sasl?.password).toBe(SECRETS[0]);
    expect(config.redis.url).toContain(SECRETS[1]);
  });

  it('leaves a URL without a password as it is', () => {
    expect(redactUrlPassword('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(redactUrlPassword('https://registry.internal')).toBe('https://registry.internal');
    expect(redactUrlPassword('not a url')).toBe('[redacted]');
  });

  it('keeps secrets out of pino output, at the top level and nested', () => {
    const output = captureLog((logger) => {
      logger.info(redactedConfig(config), 'configuration');
      logger.info({ config: redactedConfig(config) }, 'configuration');
      logger.info(config, 'raw configuration at the top level is redacted by the logger too');
    });
    expect(output).toContain('registry.internal');
    for (const secret of SECRETS) expect(output).not.toContain(secret);
  });

  it('raw config nested one or two levels deep leaked the SASL password and the Redis ACL password', () => {
    const output = captureLog((logger) => {
      logger.info({ config }, 'raw configuration under one key');
      logger.info({ scorer: { config } }, 'raw configuration under two keys');
    });
    for (const secret of SECRETS) expect(output).not.toContain(secret);
  });

  it('keeps the Redis host readable in a logged config (the logger blanked the whole URL)', () => {
    const output = captureLog((logger) => {
      logger.info({ config: redactedConfig(config) }, 'starting');
      logger.info({ config }, 'raw');
    });
    const lines = output.trim().split('\n').map((line) => JSON.parse(line) as { config: { redis: { url: string } } });
    for (const line of lines) expect(line.config.redis.url).toBe('rediss://pyramid:%5Bredacted%5D@redis.internal:6380/0');
  });
});
