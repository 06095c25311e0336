import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assertKnownVariables, loadClientConfig, loadConfig, loadStateConfig } from '../../src/config/load.js';
import { KNOWN_VARIABLES } from '../../src/config/variables.js';
import { isPyramidError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'pyramid-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const policyFile = join(dir, 'policy.yaml');
writeFileSync(policyFile, 'version: "1"\n');
const caFile = join(dir, 'ca.pem');
writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\n');

/** The smallest environment that yields a valid configuration. */
const minimalEnv = {
  PYRAMID_KAFKA_BROKERS: 'localhost:9092',
  PYRAMID_REDIS_URL: 'redis://127.0.0.1:6399',
  PYRAMID_REGISTRY_URL: 'http://localhost:8081',
  PYRAMID_POLICY_FILE: policyFile,
};

function configError(env: Record<string, string>, file?: string): string {
  try {
    loadConfig(env, file);
  } catch (err) {
    if (isPyramidError(err, 'CONFIG_INVALID')) return err.message;
    throw err;
  }
  throw new Error('expected CONFIG_INVALID');
}

function writeFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('loadConfig from the environment', () => {
  it('fills defaults around the required settings', () => {
    const config = loadConfig(minimalEnv);
    expect(config.kafka).toEqual({ brokers: ['localhost:9092'], clientId: 'pyramid', tls: { enabled: false, rejectUnauthorized: true } });
    expect(config.topics).toEqual({ transactions: 'transactions', tierChanges: 'customer-tier-changes', signals: 'customer-signals', dlq: 'transactions-dlq', boundaries: 'customer-tier-boundaries' });
    expect(config.http).toEqual({ port: 9464, host: '127.0.0.1' });
    expect(config.clock).toBe('wall');
    expect(config.inputFormat).toBe('avro');
    // Claims live as long as their transaction counts unless a shorter horizon is opted into.
    expect(config.dedupeHorizon).toBeUndefined();
    expect(config.cacheMaxCustomers).toBe(500_000);
    expect(config.validation).toEqual({ maxAmountMinor: 1e13, maxFutureSkew: 300_000 });
  });

  it('reads every kind of variable: lists, SASL, TLS, booleans, integers, durations', () => {
    const config = loadConfig({
      ...minimalEnv,
      PYRAMID_KAFKA_BROKERS: 'b1:9092, b2:9093,',
      PYRAMID_KAFKA_CLIENT_ID: 'scorer-eu',
      PYRAMID_KAFKA_SASL_MECHANISM: 'scram-sha-512',
      PYRAMID_KAFKA_SASL_USERNAME: 'svc',
      PYRAMID_KAFKA_SASL_PASSWORD: 's3cret',
      PYRAMID_KAFKA_TLS: 'true',
      PYRAMID_KAFKA_TLS_CA_FILE: caFile,
      PYRAMID_REDIS_URL: 'rediss://pyramid:acl-pass@redis.internal:6380/2',
      PYRAMID_REGISTRY_USERNAME: 'reg',
      PYRAMID_REGISTRY_PASSWORD: 'reg-pass',
      PYRAMID_TOPIC_TIER_CHANGES: 'tiers.v1',
      PYRAMID_GROUP_ID: 'pyramid-eu',
      PYRAMID_CLOCK: 'event',
      PYRAMID_INPUT_FORMAT: 'json',
      PYRAMID_HTTP_PORT: '9100',
      PYRAMID_KEY_PREFIX: 'bank1',
      PYRAMID_DEDUPE_HORIZON: '36h',
      PYRAMID_MAX_FUTURE_SKEW: '10m',
      PYRAMID_LOG_LEVEL: 'debug',
    });
    expect(config.kafka.brokers).toEqual(['b1:9092', 'b2:9093']);
    expect(config.kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'svc', password: 's3cret' });
    expect(config.kafka.tls).toEqual({ enabled: true, caFile, rejectUnauthorized: true });
    expect(config.redis.url).toBe('rediss://pyramid:acl-pass@redis.internal:6380/2');
    expect(config.registry).toEqual({ url: 'http://localhost:8081', username: 'reg', password: 'reg-pass' });
    expect(config.topics.tierChanges).toBe('tiers.v1');
    expect(config.clock).toBe('event');
    expect(config.inputFormat).toBe('json');
    expect(config.http.port).toBe(9100);
    expect(config.dedupeHorizon).toBe(36 * 3_600_000);
    expect(config.validation.maxFutureSkew).toBe(600_000);
    expect(config.logLevel).toBe('debug');
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ ...minimalEnv, PYRAMID_CLOCK: '' }).clock).toBe('wall');
  });

  it('does not need a registry in JSON mode', () => {
    const { PYRAMID_REGISTRY_URL: _unused, ...env } = minimalEnv;
    expect(loadConfig({ ...env, PYRAMID_INPUT_FORMAT: 'json' }).registry).toEqual({});
  });
});

describe('loadConfig errors name the variable to fix', () => {
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['missing brokers', { PYRAMID_KAFKA_BROKERS: '' }, /PYRAMID_KAFKA_BROKERS \(or kafka\.brokers in a config file\): is required/],
    ['broker without port', { PYRAMID_KAFKA_BROKERS: 'kafka1' }, /PYRAMID_KAFKA_BROKERS: each broker must be host:port/],
    ['unknown SASL mechanism', { PYRAMID_KAFKA_SASL_MECHANISM: 'gssapi', PYRAMID_KAFKA_SASL_USERNAME: 'u', PYRAMID_KAFKA_SASL_PASSWORD: 'p' }, /PYRAMID_KAFKA_SASL_MECHANISM: /],
    ['SASL without password', { PYRAMID_KAFKA_SASL_MECHANISM: 'plain', PYRAMID_KAFKA_SASL_USERNAME: 'u' }, /PYRAMID_KAFKA_SASL_PASSWORD \(or kafka\.sasl\.password in a config file\): is required/],
    ['TLS flag not a boolean', { PYRAMID_KAFKA_TLS: 'maybe' }, /PYRAMID_KAFKA_TLS: /],
    ['CA file missing', { PYRAMID_KAFKA_TLS: 'true', PYRAMID_KAFKA_TLS_CA_FILE: '/nonexistent/ca.pem' }, /PYRAMID_KAFKA_TLS_CA_FILE: file does not exist/],
    ['CA file without TLS', { PYRAMID_KAFKA_TLS_CA_FILE: caFile }, /PYRAMID_KAFKA_TLS \(or kafka\.tls\.enabled in a config file\): must be true/],
    ['Redis URL of another scheme', { PYRAMID_REDIS_URL: 'http://redis:6379' }, /PYRAMID_REDIS_URL: must use redis:\/\/ \(plain\) or rediss:\/\/ \(TLS\)/],
    ['Redis URL not a URL', { PYRAMID_REDIS_URL: 'not a url' }, /PYRAMID_REDIS_URL: must be a URL/],
    ['registry missing in Avro mode', { PYRAMID_REGISTRY_URL: '' }, /PYRAMID_REGISTRY_URL \(or registry\.url in a config file\): is required when the input format is avro/],
    ['registry user without password', { PYRAMID_REGISTRY_USERNAME: 'reg' }, /PYRAMID_REGISTRY_PASSWORD .*: registry basic auth needs both/],
    ['topic with a space', { PYRAMID_TOPIC_DLQ: 'bad topic' }, /PYRAMID_TOPIC_DLQ: must be 1\.\.249 characters/],
    ['clock mode unknown', { PYRAMID_CLOCK: 'lunar' }, /PYRAMID_CLOCK: /],
    ['input format unknown', { PYRAMID_INPUT_FORMAT: 'protobuf' }, /PYRAMID_INPUT_FORMAT: /],
    ['port not an integer', { PYRAMID_HTTP_PORT: 'ninety' }, /PYRAMID_HTTP_PORT: /],
    ['port out of range', { PYRAMID_HTTP_PORT: '70000' }, /PYRAMID_HTTP_PORT: /],
    ['ops host given as a URL', { PYRAMID_HTTP_HOST: 'http://0.0.0.0' }, /PYRAMID_HTTP_HOST: must be an IP address/],
    ['Redis database not a number', { PYRAMID_REDIS_URL: 'redis://127.0.0.1:6379/cache' }, /PYRAMID_REDIS_URL: the path must be a database number/],
    ['policy file missing', { PYRAMID_POLICY_FILE: '/nonexistent/policy.yaml' }, /PYRAMID_POLICY_FILE: file does not exist: \/nonexistent\/policy\.yaml/],
    ['dedupe horizon not a duration', { PYRAMID_DEDUPE_HORIZON: 'a week' }, /PYRAMID_DEDUPE_HORIZON: must be a duration/],
    ['max amount zero', { PYRAMID_MAX_AMOUNT_MINOR: '0' }, /PYRAMID_MAX_AMOUNT_MINOR: /],
    ['log level unknown', { PYRAMID_LOG_LEVEL: 'loud' }, /PYRAMID_LOG_LEVEL: /],
  ];

  it.each(cases)('%s', (_name, overrides, expected) => {
    expect(configError({ ...minimalEnv, ...overrides })).toMatch(expected);
  });

  it('reads the optional balances topic, and refuses one that is another pyramid topic', () => {
    expect(loadConfig(minimalEnv).topics.balances).toBeUndefined();
    expect(loadConfig({ ...minimalEnv, PYRAMID_TOPIC_BALANCES: 'balances' }).topics.balances).toBe('balances');
    expect(configError({ ...minimalEnv, PYRAMID_TOPIC_BALANCES: 'transactions' })).toContain('PYRAMID_TOPIC_BALANCES');
    expect(configError({ ...minimalEnv, PYRAMID_TOPIC_BALANCES: 'bad topic!' })).toContain('PYRAMID_TOPIC_BALANCES');
  });

  it('reports every problem at once', () => {
    const message = configError({ ...minimalEnv, PYRAMID_CLOCK: 'lunar', PYRAMID_HTTP_PORT: '-1', PYRAMID_KEY_PREFIX: 'a b' });
    expect(message).toMatch(/PYRAMID_CLOCK/);
    expect(message).toMatch(/PYRAMID_HTTP_PORT/);
    expect(message).toMatch(/PYRAMID_KEY_PREFIX/);
  });

  it('never echoes a secret value in an error', () => {
    const message = configError({ ...minimalEnv, PYRAMID_REDIS_URL: 'ftp://user:hunter2@host', PYRAMID_KAFKA_SASL_MECHANISM: 'plain', PYRAMID_KAFKA_SASL_USERNAME: 'u', PYRAMID_KAFKA_SASL_PASSWORD: 'hunter3', PYRAMID_KAFKA_BROKERS: 'x' });
    expect(message).not.toMatch(/hunter/);
  });
});

describe('unknown names are refused, naming the closest known one (a typo silently left the default in place)', () => {
  it('PYRAMID_CLOCKK: did you mean PYRAMID_CLOCK?', () => {
    expect(configError({ ...minimalEnv, PYRAMID_CLOCKK: 'event' })).toMatch(/PYRAMID_CLOCKK: unknown variable; did you mean PYRAMID_CLOCK\?/);
  });

  it('is reported with the other problems, by every loader', () => {
    const message = configError({ ...minimalEnv, PYRAMID_HTTP_PROT: '1', PYRAMID_CLOCK: 'lunar' });
    expect(message).toMatch(/PYRAMID_HTTP_PROT: unknown variable; did you mean PYRAMID_HTTP_PORT\?/);
    expect(message).toMatch(/PYRAMID_CLOCK: /);
    expect(() => loadClientConfig({ PYRAMID_KAFKA_BROKERS: 'k:1', PYRAMID_KAFKA_BROKER: 'k:2' })).toThrow(/PYRAMID_KAFKA_BROKER: unknown variable; did you mean PYRAMID_KAFKA_BROKERS\?/);
    expect(() => loadStateConfig({ ...minimalEnv, PYRAMID_REDIS_URI: 'redis://x:1' })).toThrow(/PYRAMID_REDIS_URI: unknown variable; did you mean PYRAMID_REDIS_URL\?/);
    expect(() => assertKnownVariables({ PYRAMID_LOGLEVEL: 'debug' })).toThrow(/PYRAMID_LOGLEVEL: unknown variable; did you mean PYRAMID_LOG_LEVEL\?/);
  });

  it('knows every name the project reads, including PYRAMID_CONFIG_FILE and PYRAMID_HTTP_HOST', () => {
    expect(KNOWN_VARIABLES).toEqual(expect.arrayContaining(['PYRAMID_CONFIG_FILE', 'PYRAMID_LOG_LEVEL', 'PYRAMID_HTTP_HOST']));
    const env = Object.fromEntries(KNOWN_VARIABLES.map((name) => [name, ''] as const));
    expect(() => assertKnownVariables({ ...env, PYRAMID_CLOCK: 'wall', OTHER_THING: 'x' })).not.toThrow();
  });

  it('a misspelt config-file key names the closest key at that place', () => {
    const file = writeFile('typos.yaml', `kafka: { brokers: ['k:1'] }\nredis: { url: 'redis://r:1' }\ninputFormat: json\npolicyFile: ${policyFile}\nclockk: event\nconsumer: { sessionTimeOut: 10s }\n`);
    const message = configError({}, file);
    expect(message).toMatch(/clockk in .*typos\.yaml: unknown setting; did you mean clock\?/);
    expect(message).toMatch(/consumer\.sessionTimeOut in .*: unknown setting; did you mean sessionTimeout\?/);
    // The client loader reads only the Kafka settings, but a typo anywhere in the file is still one.
    expect(() => loadClientConfig({}, file)).toThrow(/clockk in .*: unknown setting/);
  });
});

describe('loadConfig with a config file', () => {
  it('reads the same keys nested, resolves relative paths against the file, and lets the environment win', () => {
    const file = writeFile(
      'pyramid.yaml',
      [
        'kafka:',
        '  brokers: [k1:9092, k2:9092]',
        '  sasl: { mechanism: plain, username: svc, password: from-file }',
        'redis:',
        '  url: redis://127.0.0.1:6399',
        'registry:',
        '  url: http://registry:8081',
        'policyFile: policy.yaml',
        'clock: event',
        'dedupeHorizon: 2d',
        'topics:',
        '  dlq: tx-dead',
      ].join('\n'),
    );
    const config = loadConfig({ PYRAMID_CLOCK: 'wall', PYRAMID_KAFKA_SASL_PASSWORD: 'from-env' }, file);
    expect(config.kafka.brokers).toEqual(['k1:9092', 'k2:9092']);
    expect(config.kafka.sasl?.password).toBe('from-env');
    expect(config.policyFile).toBe(policyFile);
    expect(config.clock).toBe('wall');
    expect(config.dedupeHorizon).toBe(2 * 86_400_000);
    expect(config.topics).toEqual({ transactions: 'transactions', tierChanges: 'customer-tier-changes', signals: 'customer-signals', dlq: 'tx-dead', boundaries: 'customer-tier-boundaries' });
  });

  it('finds the file through PYRAMID_CONFIG_FILE and reads JSON too', () => {
    const file = writeFile('pyramid.json', JSON.stringify({ kafka: { brokers: ['k:1'] }, redis: { url: 'redis://r:1' }, inputFormat: 'json', policyFile }));
    expect(loadConfig({ PYRAMID_CONFIG_FILE: file }).inputFormat).toBe('json');
  });

  it('names the file field when the file holds the bad value', () => {
    const file = writeFile('bad-port.yaml', `kafka: { brokers: ['k:1'] }\nredis: { url: 'redis://r:1' }\ninputFormat: json\npolicyFile: ${policyFile}\nhttp: { port: 99999 }\n`);
    expect(configError({}, file)).toMatch(new RegExp(`http\\.port in ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
  });

  it('rejects a misspelt key instead of ignoring it', () => {
    const file = writeFile('typo.yaml', `kafka: { brokers: ['k:1'], clientID: x }\nredis: { url: 'redis://r:1' }\ninputFormat: json\npolicyFile: ${policyFile}\n`);
    expect(configError({}, file)).toMatch(/kafka\.clientID in .*: unknown setting; did you mean clientId\?/);
  });

  it('reports an unreadable or malformed file by name, without quoting its content', () => {
    expect(configError({}, join(dir, 'absent.yaml'))).toMatch(/absent\.yaml: cannot be read/);
    const broken = writeFile('broken.yaml', 'kafka:\n  sasl: { password: "topsecret\n');
    const message = configError({}, broken);
    expect(message).toMatch(/broken\.yaml: not valid YAML/);
    expect(message).not.toMatch(/topsecret/);
  });
});

describe('loadClientConfig', () => {
  it('needs only the Kafka settings, not Redis or a policy', () => {
    const config = loadClientConfig({ PYRAMID_KAFKA_BROKERS: 'k:9092', PYRAMID_REGISTRY_URL: 'http://r:8081', PYRAMID_KAFKA_TLS: 'yes' });
    expect(config.kafka).toMatchObject({ brokers: ['k:9092'], tls: { enabled: true } });
    expect(config.registry.url).toBe('http://r:8081');
  });

  it('names the variable when a Kafka setting is wrong', () => {
    expect(() => loadClientConfig({ PYRAMID_KAFKA_BROKERS: 'k:9092', PYRAMID_KAFKA_SASL_MECHANISM: 'plain' })).toThrow(/PYRAMID_KAFKA_SASL_USERNAME/);
  });
});
