import { InvalidArgumentError, type Command } from 'commander';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertKnownVariables } from '../../config/load.js';
import { configSchema } from '../../config/schema.js';
import { Instrumentation } from '../../instrumentation.js';
import { createKafkaClient } from '../../kafka/client.js';
import { createSchemaRegistryClient } from '../../kafka/schema-registry.js';
import { createLogger } from '../../logger.js';
import { createScorer } from '../../pipeline/scorer.js';
import { runSimulator } from '../../simulator/run.js';
import { loadEmbeddedStack } from '../embedded-stack.js';
import { formatPyramid } from '../format.js';
import { startLocalRedis, type LocalRedis } from '../local-redis.js';
import { startScorerOps, type ScorerOps } from '../ops-wiring.js';
import { exitOnceStopped, exitStoppedDuringStartUp, nextStopSignal, unlessStopped } from '../signals.js';

interface DemoOptions {
  duration?: number;
  count?: number;
  rate: number;
  customers: number;
  partitions: number;
  port: number;
  policy: string;
}

const DAY = 86_400_000;
const DEFAULT_POLICY = resolve(fileURLToPath(new URL('../../../policies/default.yaml', import.meta.url)));

/**
 * `pyramid demo`: everything on one machine, nothing to configure. The embedded broker and
 * registry in memory, a private redis-server child (unless PYRAMID_REDIS_URL names one), the
 * synthetic bank, the scorer and its ops server; prints the live pyramid and the tier changes
 * every second. `--duration` stops it after that many seconds (exit 0), for scripts and tests.
 */
export function register(program: Command): void {
  program
    .command('demo')
    .description('Run the whole pipeline locally with a synthetic bank and print the live pyramid')
    .option('--duration <seconds>', 'stop after this many seconds (default: until Ctrl-C)', positiveInt)
    .option('--count <n>', 'the synthetic bank stops after this many transactions; the scorer keeps running (default: no end)', positiveInt)
    .option('--rate <events/s>', 'transactions per second from the synthetic bank', positiveInt, 500)
    .option('--customers <n>', 'customers of the synthetic bank', positiveInt, 2_000)
    .option('--partitions <n>', 'partitions of the transactions topic', positiveInt, 3)
    .option('--port <port>', 'ops server port (status page, /metrics); 0 picks a free one', nonNegativeInt, 9464)
    .option('--policy <file>', 'tier policy file', DEFAULT_POLICY)
    .action(async (opts: DemoOptions) => {
      await demo(opts);
    });
}

async function demo(opts: DemoOptions): Promise<void> {
  // The demo reads only PYRAMID_REDIS_URL and PYRAMID_LOG_LEVEL, but a typo there is a typo too.
  assertKnownVariables(process.env);
  const logger = createLogger({ level: process.env.PYRAMID_LOG_LEVEL ?? 'warn', name: 'pyramid-demo', destination: process.stderr });
  const stop = nextStopSignal();
  const cleanup: Array<() => Promise<void>> = [];
  try {
    let redisUrl = process.env.PYRAMID_REDIS_URL;
    if (redisUrl === undefined || redisUrl === '') {
      const local: LocalRedis = await startLocalRedis();
      cleanup.unshift(() => local.stop());
      redisUrl = local.url;
    }
    const startDevStack = await loadEmbeddedStack();
    const stack = await startDevStack({ brokerPort: 0, registryPort: 0, logger });
    cleanup.unshift(() => stack.close());
    const kafkaConfig = { brokers: stack.brokers, clientId: 'pyramid-demo', tls: { enabled: false, rejectUnauthorized: true } };
    const kafka = createKafkaClient(kafkaConfig);
    const admin = kafka.createAdmin();
    await admin.connect();
    await admin.ensureTopics([{ topic: 'transactions', numPartitions: opts.partitions }]);
    await admin.disconnect();

    const config = configSchema.parse({
      kafka: kafkaConfig,
      redis: { url: redisUrl },
      registry: { url: stack.registryUrl },
      policyFile: opts.policy,
      keyPrefix: `demo-${Date.now().toString(36)}`,
      inputFormat: 'avro',
      clock: 'wall',
      consumer: { sessionTimeout: 6_000, heartbeatInterval: 1_000 },
    });
    const instrumentation = new Instrumentation();
    const scorer = createScorer(config, { logger, instrumentation, tuning: { lagIntervalMs: 1_000 } });
    cleanup.unshift(() => scorer.stop());
    // A taken port is an error like any other start-up failure (a silent move to another port
    // would leave a bookmarked status page showing some other process); `--port 0` asks for a
    // free one.
    const ops: ScorerOps = await startScorerOps({ scorer, port: opts.port, censusIntervalMs: 1_000, logger, settings: { port: '--port' } });
    cleanup.unshift(() => ops.close());
    const start = await unlessStopped(scorer.start(), stop.signal);
    if ('signal' in start) {
      await exitStoppedDuringStartUp(start.signal, logger, async () => {
        for (const step of cleanup) await step().catch(() => undefined);
      });
    }
    ops.scorerStarted();
    console.log(`pyramid demo: broker ${stack.brokers.join(',')}, registry ${stack.registryUrl}, redis ${redisUrl}`);
    console.log(`status page: http://127.0.0.1:${ops.port}/   metrics: http://127.0.0.1:${ops.port}/metrics`);

    // The synthetic bank: the last 30 days compressed so the demo reaches today after ~10 minutes,
    // with tickets large enough that customers climb the pyramid within the first minute.
    const producer = kafka.createProducer();
    cleanup.unshift(() => producer.disconnect());
    const simulation = new AbortController();
    const spacingMs = (30 * DAY) / (opts.rate * 600);
    const simulator = runSimulator({
      producer,
      topic: 'transactions',
      format: 'avro',
      registry: createSchemaRegistryClient({ url: stack.registryUrl }),
      // v3: every transaction carries its margin, so the pyramid shows profit per tier too.
      schemaVersion: 'v3',
      seed: 42,
      customers: opts.customers,
      count: opts.count,
      startTime: Date.now() - 30 * DAY,
      minTicketMinor: 40_000,
      spacingMs,
      rate: opts.rate,
      signal: simulation.signal,
    })
      .then((result) => {
        // A script waiting for the stream to end (lag 0, census settled) reads this line.
        if (!simulation.signal.aborted) console.log(`synthetic bank: finished after ${result.sent} transactions`);
      })
      .catch((err: unknown) => logger.error({ err }, 'simulator failed'));
    cleanup.unshift(async () => {
      simulation.abort();
      await simulator;
    });

    const changes = new Map<string, number>();
    let scored = 0;
    instrumentation.on('tier.change', (e) => {
      const key = `${e.from ?? 'new'} → ${e.to} (${e.cause})`;
      changes.set(key, (changes.get(key) ?? 0) + 1);
    });
    instrumentation.on('consumer.records', (e) => {
      if (e.outcome === 'scored') scored += e.count;
    });
    const started = Date.now();
    const ticker = setInterval(() => {
      void scorer
        .census()
        .then((census) => {
          const elapsed = Math.round((Date.now() - started) / 1000);
          const moved = [...changes].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, n]) => `${k} ×${n}`);
          changes.clear();
          console.log(`\n[${elapsed}s] ${scored} transactions scored`);
          console.log(formatPyramid(census));
          console.log(`tier changes this second: ${moved.length === 0 ? 'none' : moved.join(', ')}`);
        })
        .catch((err: unknown) => logger.warn({ err }, 'census failed'));
    }, 1_000);
    cleanup.unshift(() => Promise.resolve(clearInterval(ticker)));

    const until = opts.duration === undefined ? new Promise<never>(() => undefined) : new Promise<void>((r) => setTimeout(r, opts.duration! * 1000).unref());
    await Promise.race([stop.signal, until, scorer.done]);
    console.log('\npyramid demo: stopping');
  } finally {
    for (const step of cleanup) await step().catch((err: unknown) => logger.warn({ err }, 'demo cleanup step failed'));
    stop.dispose();
  }
  console.log('pyramid demo: stopped');
  exitOnceStopped(logger);
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65_535) throw new InvalidArgumentError('expected a port from 0 to 65535');
  return n;
}
