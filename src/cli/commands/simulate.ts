import { InvalidArgumentError, Option, type Command } from 'commander';
import { loadClientConfig } from '../../config/load.js';
import { parseConfigDuration } from '../../config/config-duration.js';
import { createLogger } from '../../logger.js';
import { retrying } from '../../pipeline/retry.js';

interface SimulateCommandOptions {
  brokers?: string;
  topic: string;
  registry?: string;
  format: 'avro' | 'json';
  schema: 'v1' | 'v2' | 'v3' | 'mixed';
  balancesTopic?: string;
  balanceRatio: number;
  customers: number;
  rate?: number;
  count?: number;
  seed: number;
  span?: number;
  alpha: number;
  refundRatio: number;
  duplicateRatio: number;
  lateRatio: number;
  silenceRatio: number;
  currency: string;
  partitions?: number;
  config?: string;
}

/**
 * `pyramid simulate`: a synthetic bank producing transactions to any Kafka cluster. Connection
 * settings beyond the flags (SASL, TLS, registry credentials) come from the same PYRAMID_*
 * variables or config file as the scorer, so passwords never appear on a command line.
 */
export function register(program: Command): void {
  program
    .command('simulate')
    .description('Produce synthetic bank transactions (Pareto spend, refunds, duplicates, late events, silences) to a topic')
    .option('--brokers <list>', 'Kafka bootstrap brokers host:port[,host:port] (default $PYRAMID_KAFKA_BROKERS)')
    .option('--topic <name>', 'topic to produce to', process.env.PYRAMID_TOPIC_TRANSACTIONS || 'transactions')
    .option('--registry <url>', 'Schema Registry URL for Avro (default $PYRAMID_REGISTRY_URL)')
    .addOption(new Option('--format <format>', 'value encoding').choices(['avro', 'json']).default(process.env.PYRAMID_INPUT_FORMAT === 'json' ? 'json' : 'avro'))
    .addOption(new Option('--schema <version>', 'transaction contract version to write; mixed alternates v1 and v2; v3 adds each transaction\'s margin (profitMinor)').choices(['v1', 'v2', 'v3', 'mixed']).default('v2'))
    .option('--balances-topic <name>', 'also produce account balance snapshots (balance-v1) to this topic, co-partitioned with --topic (default $PYRAMID_TOPIC_BALANCES)', process.env.PYRAMID_TOPIC_BALANCES || undefined)
    .option('--balance-ratio <p>', 'share of all records that are balance snapshots, with --balances-topic', probability, 0.2)
    .option('--customers <n>', 'distinct customers', integerIn(1, 100_000_000), 1_000)
    .option('--rate <eventsPerSecond>', 'pace to this many events per second (default: as fast as possible)', numberAbove(0))
    .option('--count <n>', 'stop after this many events (default: run until Ctrl-C)', integerIn(1, Number.MAX_SAFE_INTEGER))
    .option('--seed <n>', 'random seed; the same seed gives the same transactions', integerIn(0, 2 ** 32 - 1), 1)
    .option('--span <duration>', 'backfill: spread the --count events over this much past time, ending now (e.g. 365d)', duration)
    .option('--alpha <shape>', 'Pareto shape of ticket sizes (1.16 = 80/20)', numberAbove(0), 1.16)
    .option('--refund-ratio <p>', 'share of events that refund an earlier purchase', probability, 0.03)
    .option('--duplicate-ratio <p>', 'share of events re-sent with the same transactionId', probability, 0.01)
    .option('--late-ratio <p>', 'share of events arriving late (up to 3 days)', probability, 0.02)
    .option('--silence-ratio <p>', 'share of customers who stop buying halfway through --count (endless: after 20 events per customer)', probability, 0.1)
    .option('--currency <code>', 'ISO 4217 currency of the amounts', 'CNY')
    .option('--partitions <n>', 'create the topic with this many partitions if it does not exist', integerIn(1, 10_000))
    .option('--config <file>', 'YAML/JSON config file for the connection settings (default $PYRAMID_CONFIG_FILE)')
    .action(async (opts: SimulateCommandOptions) => {
      await runSimulate(opts);
    });
}

async function runSimulate(opts: SimulateCommandOptions): Promise<void> {
  if (opts.span !== undefined && (opts.count === undefined || opts.rate !== undefined)) {
    throw new InvalidArgumentError('--span needs --count and no --rate (it backfills past event times)');
  }
  const env = { ...process.env };
  if (opts.brokers !== undefined) env.PYRAMID_KAFKA_BROKERS = opts.brokers;
  if (opts.brokers === undefined && !env.PYRAMID_KAFKA_BROKERS) env.PYRAMID_KAFKA_BROKERS = 'localhost:9092';
  if (opts.registry !== undefined) env.PYRAMID_REGISTRY_URL = opts.registry;
  const client = loadClientConfig(env, opts.config);
  if (opts.format === 'avro' && client.registry.url === undefined) {
    throw new InvalidArgumentError('--format avro needs --registry <url> (or PYRAMID_REGISTRY_URL)');
  }

  // kafkajs logs each of its own reconnect attempts at level error; the simulator reports what
  // matters itself (one line per retry, the error that ended it), so kafkajs speaks only when
  // PYRAMID_LOG_LEVEL asks for logs.
  const logger = createLogger({ name: 'pyramid-simulate', destination: process.stderr, level: process.env.PYRAMID_LOG_LEVEL || 'fatal' });
  const [{ createKafkaClient }, { createSchemaRegistryClient }, { runSimulator }] = await Promise.all([
    import('../../kafka/client.js'),
    import('../../kafka/schema-registry.js'),
    import('../../simulator/run.js'),
  ]);
  const kafka = createKafkaClient(client.kafka, { logger });
  const abort = new AbortController();
  const stop = (): void => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // A broker outage is something a load generator lives through: each failed try gets one line.
  const warnRetry = (err: unknown, attempt: number, delayMs: number): void => {
    console.error(`pyramid simulate: ${err instanceof Error ? err.message : String(err)}; retrying in ${(delayMs / 1_000).toFixed(1)} s (attempt ${attempt + 1})`);
  };
  if (opts.partitions !== undefined) {
    const admin = kafka.createAdmin();
    try {
      const ensured = await retrying(
        async () => {
          await admin.connect();
          const topics = [opts.topic, ...(opts.balancesTopic === undefined ? [] : [opts.balancesTopic])];
          return admin.ensureTopics(topics.map((topic) => ({ topic, numPartitions: opts.partitions ?? 1 })));
        },
        { shouldStop: () => abort.signal.aborted, onRetry: warnRetry },
      );
      if (ensured.done && ensured.value.length > 0) console.log(`created topic${ensured.value.length > 1 ? 's' : ''} ${ensured.value.join(', ')} with ${opts.partitions} partitions`);
    } finally {
      await admin.disconnect();
    }
  }

  const now = Date.now();
  const spacingMs = opts.span !== undefined && opts.count !== undefined ? Math.max(1, Math.floor(opts.span / opts.count)) : opts.rate !== undefined ? 1_000 / opts.rate : 1;

  const producer = kafka.createProducer();
  let lastReport = 0;
  try {
    const result = await runSimulator({
      seed: opts.seed,
      customers: opts.customers,
      count: opts.count,
      startTime: opts.span !== undefined ? now - opts.span : now,
      spacingMs,
      paretoAlpha: opts.alpha,
      refundRatio: opts.refundRatio,
      duplicateRatio: opts.duplicateRatio,
      lateRatio: opts.lateRatio,
      silenceRatio: opts.silenceRatio,
      currency: opts.currency,
      producer,
      topic: opts.topic,
      format: opts.format,
      registry: client.registry.url === undefined ? undefined : createSchemaRegistryClient({ url: client.registry.url, username: client.registry.username, password: client.registry.password }),
      schemaVersion: opts.schema,
      ...(opts.balancesTopic === undefined ? {} : { balances: { topic: opts.balancesTopic, ratio: opts.balanceRatio } }),
      rate: opts.rate,
      signal: abort.signal,
      onRetry: warnRetry,
      onProgress: (sent) => {
        if (Date.now() - lastReport >= 5_000) {
          lastReport = Date.now();
          console.log(`sent ${sent}`);
        }
      },
    });
    const seconds = result.durationMs / 1_000;
    console.log(
      `sent ${result.sent - result.balances} transactions to ${opts.topic} (${opts.format}, ${opts.schema})` +
        (opts.balancesTopic === undefined ? '' : ` and ${result.balances} balance snapshots to ${opts.balancesTopic}`) +
        ` in ${seconds.toFixed(1)} s` +
        ` (${Math.round(result.sent / Math.max(seconds, 0.001))}/s; ${result.duplicates} duplicates, ${result.late} late)`,
    );
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await producer.disconnect();
  }
}

function integerIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return n;
  };
}

function numberAbove(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= min) throw new InvalidArgumentError(`expected a number above ${min}`);
    return n;
  };
}

function probability(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('expected a probability from 0 to 1');
  return n;
}

function duration(value: string): number {
  const ms = parseConfigDuration(value);
  if (ms === null || ms === 0) throw new InvalidArgumentError('expected a duration such as 30d, 12h or 90m');
  return ms;
}
