/** How an environment variable's text becomes a config value before zod validates it. */
export type VariableKind = 'string' | 'list' | 'boolean' | 'integer' | 'path';

/** One configuration variable: its environment name and where it sits in the config file. */
export interface ConfigVariable {
  env: string;
  /** Path in the nested config (and the config file), e.g. ['kafka', 'sasl', 'password']. */
  path: readonly string[];
  kind: VariableKind;
  /**
   * Values that must never be logged: `redactedConfig` and the logger's redaction blank these
   * (a URL only loses its password, so a registry URL with `user:password@` is covered too).
   */
  secret?: boolean;
}

/**
 * Every variable pyramid reads, in one table: environment loading, file loading and error
 * messages all derive from it, so a new setting is one line here plus its schema entry.
 */
export const CONFIG_VARIABLES: readonly ConfigVariable[] = [
  { env: 'PYRAMID_KAFKA_BROKERS', path: ['kafka', 'brokers'], kind: 'list' },
  { env: 'PYRAMID_KAFKA_CLIENT_ID', path: ['kafka', 'clientId'], kind: 'string' },
  { env: 'PYRAMID_KAFKA_SASL_MECHANISM', path: ['kafka', 'sasl', 'mechanism'], kind: 'string' },
  { env: 'PYRAMID_KAFKA_SASL_USERNAME', path: ['kafka', 'sasl', 'username'], kind: 'string' },
  { env: 'PYRAMID_KAFKA_SASL_PASSWORD', path: ['kafka', 'sasl', 'password'], kind: 'string', secret: true },
  { env: 'PYRAMID_KAFKA_TLS', path: ['kafka', 'tls', 'enabled'], kind: 'boolean' },
  { env: 'PYRAMID_KAFKA_TLS_CA_FILE', path: ['kafka', 'tls', 'caFile'], kind: 'path' },
  { env: 'PYRAMID_KAFKA_TLS_REJECT_UNAUTHORIZED', path: ['kafka', 'tls', 'rejectUnauthorized'], kind: 'boolean' },
  { env: 'PYRAMID_REDIS_URL', path: ['redis', 'url'], kind: 'string', secret: true },
  { env: 'PYRAMID_REDIS_TLS_CA_FILE', path: ['redis', 'tlsCaFile'], kind: 'path' },
  { env: 'PYRAMID_REGISTRY_URL', path: ['registry', 'url'], kind: 'string', secret: true },
  { env: 'PYRAMID_REGISTRY_USERNAME', path: ['registry', 'username'], kind: 'string' },
  { env: 'PYRAMID_REGISTRY_PASSWORD', path: ['registry', 'password'], kind: 'string', secret: true },
  { env: 'PYRAMID_TOPIC_TRANSACTIONS', path: ['topics', 'transactions'], kind: 'string' },
  { env: 'PYRAMID_TOPIC_TIER_CHANGES', path: ['topics', 'tierChanges'], kind: 'string' },
  { env: 'PYRAMID_TOPIC_SIGNALS', path: ['topics', 'signals'], kind: 'string' },
  { env: 'PYRAMID_TOPIC_DLQ', path: ['topics', 'dlq'], kind: 'string' },
  { env: 'PYRAMID_TOPIC_BALANCES', path: ['topics', 'balances'], kind: 'string' },
  { env: 'PYRAMID_TOPIC_BOUNDARIES', path: ['topics', 'boundaries'], kind: 'string' },
  { env: 'PYRAMID_GROUP_ID', path: ['groupId'], kind: 'string' },
  { env: 'PYRAMID_POLICY_FILE', path: ['policyFile'], kind: 'path' },
  { env: 'PYRAMID_CLOCK', path: ['clock'], kind: 'string' },
  { env: 'PYRAMID_INPUT_FORMAT', path: ['inputFormat'], kind: 'string' },
  { env: 'PYRAMID_OUTPUT_FORMAT', path: ['outputFormat'], kind: 'string' },
  { env: 'PYRAMID_CONSUMER_SESSION_TIMEOUT', path: ['consumer', 'sessionTimeout'], kind: 'string' },
  { env: 'PYRAMID_CONSUMER_HEARTBEAT_INTERVAL', path: ['consumer', 'heartbeatInterval'], kind: 'string' },
  { env: 'PYRAMID_CONSUMER_CONCURRENCY', path: ['consumer', 'concurrency'], kind: 'integer' },
  { env: 'PYRAMID_CONSUMER_MAX_BYTES_PER_PARTITION', path: ['consumer', 'maxBytesPerPartition'], kind: 'integer' },
  { env: 'PYRAMID_HTTP_PORT', path: ['http', 'port'], kind: 'integer' },
  { env: 'PYRAMID_HTTP_HOST', path: ['http', 'host'], kind: 'string' },
  { env: 'PYRAMID_KEY_PREFIX', path: ['keyPrefix'], kind: 'string' },
  { env: 'PYRAMID_DEDUPE_HORIZON', path: ['dedupeHorizon'], kind: 'string' },
  { env: 'PYRAMID_RANKING_INTERVAL', path: ['ranking', 'interval'], kind: 'string' },
  { env: 'PYRAMID_RANKING_LEASE', path: ['ranking', 'lease'], kind: 'string' },
  { env: 'PYRAMID_CACHE_MAX_CUSTOMERS', path: ['cacheMaxCustomers'], kind: 'integer' },
  { env: 'PYRAMID_MAX_AMOUNT_MINOR', path: ['validation', 'maxAmountMinor'], kind: 'integer' },
  { env: 'PYRAMID_MAX_FUTURE_SKEW', path: ['validation', 'maxFutureSkew'], kind: 'string' },
  { env: 'PYRAMID_LOG_LEVEL', path: ['logLevel'], kind: 'string' },
];

/** Names the config file to read when `loadConfig` is not given one explicitly. */
export const CONFIG_FILE_VARIABLE = 'PYRAMID_CONFIG_FILE';

/** The prefix that marks a variable as pyramid's: any other name with it is a mistake. */
export const VARIABLE_PREFIX = 'PYRAMID_';

/**
 * Every `PYRAMID_*` name pyramid reads: the settings above plus the one that names the config
 * file. A variable with the prefix that is not here is refused at start-up, so a misspelt name
 * cannot silently leave its setting at the default.
 */
export const KNOWN_VARIABLES: readonly string[] = [...CONFIG_VARIABLES.map((variable) => variable.env), CONFIG_FILE_VARIABLE];

/**
 * Turns an environment string into the value zod expects. Text that does not parse is passed on
 * unchanged, so zod rejects it and the error names the variable.
 */
export function coerceEnvValue(kind: VariableKind, text: string): unknown {
  switch (kind) {
    case 'list':
      return text
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');
    case 'boolean': {
      const lower = text.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(lower)) return true;
      if (['false', '0', 'no', 'off'].includes(lower)) return false;
      return text;
    }
    case 'integer':
      return /^-?\d+$/.test(text.trim()) ? Number(text.trim()) : text;
    case 'string':
    case 'path':
      return text;
  }
}
