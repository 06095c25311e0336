import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { z } from 'zod';
import { parseConfigDuration } from './config-duration.js';

/** Kafka topic names: the broker's legal characters and length (Kafka `Topic.validate`). */
const topicName = z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'must be 1..249 characters of [A-Za-z0-9._-]');

// A path is not a secret, and the operator needs to see which one was looked up (relative paths
// in a config file resolve against the file's folder).
const existingFile = z
  .string()
  .min(1)
  .superRefine((path, ctx) => {
    if (!existsSync(path)) ctx.addIssue({ code: 'custom', message: `file does not exist: ${path}` });
  });

const duration = z
  .union([z.string(), z.number()])
  .transform((value, ctx) => {
    const ms = parseConfigDuration(value);
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: 'must be a duration such as 30s, 15m, 12h, 7d or integer milliseconds' });
      return z.NEVER;
    }
    return ms;
  });

const redisUrl = z.string().superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    // Never echo the value: a Redis URL may carry an ACL password.
    ctx.addIssue({ code: 'custom', message: 'must be a URL such as redis://host:6379 or rediss://user:password@host:6380/0' });
    return;
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    ctx.addIssue({ code: 'custom', message: 'must use redis:// (plain) or rediss:// (TLS)' });
  } else if (url.hostname === '') {
    ctx.addIssue({ code: 'custom', message: 'must name a host' });
  } else if (!REDIS_DB_PATH.test(url.pathname)) {
    ctx.addIssue({ code: 'custom', message: 'the path must be a database number, as in redis://host:6379/2' });
  }
});

/**
 * The database index a Redis URL selects (`/3`), if any. ioredis reads the path with parseInt and
 * would take `/abc` as database 0, so anything but digits is refused here.
 */
const REDIS_DB_PATH = /^\/?(\d*)$/;

/** The interface the ops server binds: an IP address or a host name, never a URL or a port. */
const listenHost = z
  .string()
  .refine((value) => isIP(value) !== 0 || /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/.test(value), 'must be an IP address (127.0.0.1, 0.0.0.0, ::) or a host name');

const httpUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}, 'must be an http:// or https:// URL');

/**
 * The shape of a pyramid configuration, after environment variables have been merged over the
 * config file. Objects are strict so a typo in a config file is an error, not a silently ignored
 * key. Cross-field rules (SASL completeness, registry needed for Avro, ...) live in the final
 * superRefine so every problem is reported at once, each at the path of the field to fix.
 */
export const configSchema = z
  .strictObject({
    kafka: z.strictObject({
      brokers: z.array(z.string().regex(/^[^\s:/]+:\d{1,5}$/, 'each broker must be host:port')).min(1, 'at least one broker'),
      clientId: z.string().min(1).default('pyramid'),
      sasl: z
        .strictObject({
          mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
          username: z.string().min(1),
          password: z.string().min(1),
        })
        .optional(),
      tls: z
        .strictObject({
          enabled: z.boolean().default(false),
          /** PEM bundle of the CA that signed the brokers' certificates (private PKI). */
          caFile: existingFile.optional(),
          rejectUnauthorized: z.boolean().default(true),
        })
        .default({ enabled: false, rejectUnauthorized: true }),
    }),
    redis: z.strictObject({
      /** redis:// or rediss:// (TLS); an ACL user goes in as user:password@. */
      url: redisUrl,
      /** PEM CA bundle for rediss:// against a private CA. */
      tlsCaFile: existingFile.optional(),
    }),
    registry: z
      .strictObject({
        url: httpUrl.optional(),
        username: z.string().min(1).optional(),
        password: z.string().min(1).optional(),
      })
      .default({}),
    topics: z
      .strictObject({
        transactions: topicName.default('transactions'),
        tierChanges: topicName.default('customer-tier-changes'),
        /** NEAR_UPGRADE / DOWNGRADE_PENDING / DOWNGRADE_CANCELLED, when the policy asks for signals. */
        signals: topicName.default('customer-signals'),
        dlq: topicName.default('transactions-dlq'),
        /**
         * Account balance snapshots (schemas/balance-v1.avsc), co-partitioned with `transactions`
         * (same partition count, same key); unset: the scorer consumes transactions only.
         */
        balances: topicName.optional(),
        /** Relative tiers: the compacted topic of the boundaries in force, keyed by tier. */
        boundaries: topicName.default('customer-tier-boundaries'),
      })
      .default({ transactions: 'transactions', tierChanges: 'customer-tier-changes', signals: 'customer-signals', dlq: 'transactions-dlq', boundaries: 'customer-tier-boundaries' }),
    groupId: z.string().min(1).default('pyramid'),
    policyFile: existingFile,
    /** `wall`: live scoring on the wall clock; `event`: replay/backfill on the event-time watermark. */
    clock: z.enum(['wall', 'event']).default('wall'),
    inputFormat: z.enum(['avro', 'json']).default('avro'),
    /** Encoding of tier-change events and signals; defaults to the input format (avro needs the registry). */
    outputFormat: z.enum(['avro', 'json']).optional(),
    /** Consumer-group tuning; the defaults suit production Kafka. */
    consumer: z
      .strictObject({
        /** Milliseconds a silent member keeps its partitions; lower means faster takeover after a crash. */
        sessionTimeout: duration.default(30_000),
        /** Milliseconds between heartbeats; keep it well below the session timeout. */
        heartbeatInterval: duration.default(3_000),
        /** Partition batches processed in parallel by one instance. */
        concurrency: z.int().min(1).max(1024).default(4),
        /** Upper bound of one partition batch, bytes. */
        maxBytesPerPartition: z.int().min(1024).default(1_048_576),
      })
      .default({ sessionTimeout: 30_000, heartbeatInterval: 3_000, concurrency: 4, maxBytesPerPartition: 1_048_576 }),
    http: z
      .strictObject({
        port: z.int().min(0).max(65_535).default(9464),
        /**
         * Interface of the ops server. Loopback by default: /metrics and the status page show
         * customer counts and revenue, so exposing them is the deployment's choice (containers
         * set 0.0.0.0 so Prometheus and the kubelet reach them).
         */
        host: listenHost.default('127.0.0.1'),
      })
      .default({ port: 9464, host: '127.0.0.1' }),
    /** First segment of every Redis key, so several deployments can share one Redis. */
    keyPrefix: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1..64 characters of [A-Za-z0-9_.-]').default('pyr'),
    /**
     * Opt-in, milliseconds: remember a transactionId only this long instead of for as long as its
     * transaction counts in the window (the default, which never counts a copy twice). Saves Redis
     * memory; `pyramid_dedupe_claims_shortened_total` counts the claims it shortened.
     */
    dedupeHorizon: duration.optional(),
    /**
     * Relative (share-of-customers) tiers, wall clock: how often the coordinator recomputes the
     * boundaries (event clock: how often it checks whether every partition reached the next
     * boundary instant), and how long its lease lasts without renewal (another instance takes
     * over then).
     */
    ranking: z
      .strictObject({ interval: duration.default(60_000), lease: duration.default(15_000) })
      .default({ interval: 60_000, lease: 15_000 }),
    /** Most customers the scorer keeps in memory across its partitions (least recently used go first). */
    cacheMaxCustomers: z.int().min(1).max(100_000_000).default(500_000),
    validation: z
      .strictObject({
        /** Largest accepted amount in minor units; larger is treated as a producer bug. */
        maxAmountMinor: z.int().min(1).max(Number.MAX_SAFE_INTEGER).default(10_000_000_000_000),
        /** Milliseconds an event time may lie ahead of the wall clock before it goes to the DLQ. */
        maxFutureSkew: duration.default(300_000),
      })
      .default({ maxAmountMinor: 10_000_000_000_000, maxFutureSkew: 300_000 }),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .superRefine((config, ctx) => {
    if (config.outputFormat === 'avro' && config.inputFormat !== 'avro' && config.registry.url === undefined) {
      ctx.addIssue({ code: 'custom', path: ['registry', 'url'], message: 'is required when the output format is avro' });
    }
    const { balances } = config.topics;
    if (balances !== undefined && [config.topics.transactions, config.topics.tierChanges, config.topics.dlq].includes(balances)) {
      ctx.addIssue({ code: 'custom', path: ['topics', 'balances'], message: 'must be a topic of its own, not the transactions, tier-changes or DLQ topic' });
    }
    if (config.ranking.interval <= 0 || config.ranking.lease <= 0) {
      ctx.addIssue({ code: 'custom', path: ['ranking'], message: 'interval and lease must be positive durations' });
    }
    if (config.consumer.heartbeatInterval >= config.consumer.sessionTimeout) {
      ctx.addIssue({ code: 'custom', path: ['consumer', 'heartbeatInterval'], message: 'must be shorter than the session timeout' });
    }
    if (config.inputFormat === 'avro' && config.registry.url === undefined) {
      ctx.addIssue({ code: 'custom', path: ['registry', 'url'], message: 'is required when the input format is avro' });
    }
    if ((config.registry.username === undefined) !== (config.registry.password === undefined)) {
      const missing = config.registry.username === undefined ? 'username' : 'password';
      ctx.addIssue({ code: 'custom', path: ['registry', missing], message: 'registry basic auth needs both username and password' });
    }
    if (config.kafka.tls.caFile !== undefined && !config.kafka.tls.enabled) {
      ctx.addIssue({ code: 'custom', path: ['kafka', 'tls', 'enabled'], message: 'must be true when a TLS CA file is given' });
    }
    if (config.redis.tlsCaFile !== undefined && !config.redis.url.startsWith('rediss://')) {
      ctx.addIssue({ code: 'custom', path: ['redis', 'url'], message: 'must use rediss:// when a Redis TLS CA file is given' });
    }
  });

/** A validated pyramid configuration. Durations are integer milliseconds. */
export type PyramidConfig = z.output<typeof configSchema>;

/** The same, as written in a config file (durations may be strings, defaults may be left out). */
export type PyramidConfigInput = z.input<typeof configSchema>;
