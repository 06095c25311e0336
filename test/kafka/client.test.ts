import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import kafkajs from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { toKafkaJsConfig, type KafkaConnectionConfig } from '../../src/kafka/client.js';
import { createKafkaLogCreator, kafkaLogLevelFor } from '../../src/kafka/log.js';
import { createLogger } from '../../src/logger.js';

const dir = mkdtempSync(join(tmpdir(), 'pyramid-kafka-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const plain: KafkaConnectionConfig = { brokers: ['k1:9092', 'k2:9092'], clientId: 'scorer', tls: { enabled: false, rejectUnauthorized: true } };

describe('toKafkaJsConfig', () => {
  it('maps brokers and client id, no TLS, no SASL', () => {
    const config = toKafkaJsConfig(plain);
    expect(config).toMatchObject({ brokers: ['k1:9092', 'k2:9092'], clientId: 'scorer', ssl: false });
    expect(config.sasl).toBeUndefined();
  });

  it('enables TLS with the CA bundle read from disk', () => {
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, 'PEM-BUNDLE');
    const config = toKafkaJsConfig({ ...plain, tls: { enabled: true, caFile, rejectUnauthorized: false } });
    expect(config.ssl).toEqual({ rejectUnauthorized: false, ca: ['PEM-BUNDLE'] });
  });

  it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)('passes SASL %s through', (mechanism) => {
    const config = toKafkaJsConfig({ ...plain, tls: { enabled: true, rejectUnauthorized: true }, sasl: { mechanism, username: 'svc', password: 'pw' } });
    expect(config.sasl).toEqual({ mechanism, username: 'svc', password: 'pw' });
    expect(config.ssl).toEqual({ rejectUnauthorized: true });
  });

  it('picks the kafkajs log level from the logger, keeping protocol chatter for trace', () => {
    expect(kafkaLogLevelFor('trace')).toBe(kafkajs.logLevel.DEBUG);
    expect(kafkaLogLevelFor('debug')).toBe(kafkajs.logLevel.INFO);
    expect(kafkaLogLevelFor('info')).toBe(kafkajs.logLevel.INFO);
    expect(kafkaLogLevelFor('warn')).toBe(kafkajs.logLevel.WARN);
    expect(kafkaLogLevelFor('error')).toBe(kafkajs.logLevel.ERROR);
    expect(kafkaLogLevelFor('silent')).toBe(kafkajs.logLevel.NOTHING);
  });
});

describe('kafkajs log bridge', () => {
  it('writes kafkajs entries as pino JSON with namespace and level, secrets redacted', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const log = createKafkaLogCreator(createLogger({ destination, level: 'debug' }))(kafkajs.logLevel.INFO);
    log({ namespace: 'Consumer', level: kafkajs.logLevel.WARN, label: 'WARN', log: { timestamp: 't', message: 'The group is rebalancing', groupId: 'g1' } });
    log({ namespace: 'SASLAuthenticator', level: kafkajs.logLevel.ERROR, label: 'ERROR', log: { timestamp: 't', message: 'auth failed', sasl: { password: 'hunter2' } } });
    const [first, second] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(first).toMatchObject({ level: 40, component: 'kafkajs', namespace: 'Consumer', groupId: 'g1', msg: 'The group is rebalancing' });
    expect(second).toMatchObject({ level: 50, namespace: 'SASLAuthenticator', msg: 'auth failed' });
    expect(lines.join('')).not.toContain('hunter2');
  });
});
