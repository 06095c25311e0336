/**
 * Where the transaction -> tier-change latency goes (npm run bench:latency). Prints numbers;
 * asserts nothing.
 *
 * Starts the embedded broker as its own process (as bench:e2e does) and a private Redis, runs the
 * scorer IN this process so its stages can be timed, produces new customers' first purchases at a
 * steady rate (each yields one tier change) and follows every record by its key:
 *
 *   produce call -> produce acknowledged -> the scorer's kafkajs hands over the batch
 *   -> engine + commit sent (OwnedPartition.apply) -> the relay's transaction sends it
 *   -> the transaction is committed (EndTxn answered) -> a read_committed reader sees it
 *
 * It also prints, per Kafka API, how long the relay's requests took, and how long the scorer's
 * fetches and Redis calls took. The probe wraps kafkajs's client and the store's prototypes from
 * the outside; no production code knows it exists. The producer and the reader share this
 * process's event loop with the scorer (bench:e2e keeps them apart), so stages here are slightly
 * longer than there.
 *
 * Options (env): PROBE_RATE (10000 events/s), PROBE_SECONDS (10), PROBE_PARTITIONS (8),
 * PROBE_DATA_DIR (the broker keeps its data there, as `npm run dev-stack` does; default in memory,
 * as bench:e2e).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import kafkajs from 'kafkajs';
import { startLocalRedis } from '../src/cli/local-redis.js';
import { loadConfig } from '../src/config/load.js';
import { createKafkaClient } from '../src/kafka/client.js';
import type { OutgoingRecord } from '../src/kafka/types.js';
import { OwnedPartition } from '../src/pipeline/owned-partition.js';
import { createScorer } from '../src/pipeline/scorer.js';
import { StateStore } from '../src/state/store.js';

const ROOT = resolve(import.meta.dirname, '..');
const RATE = Number(process.env.PROBE_RATE ?? 10_000);
const SECONDS = Number(process.env.PROBE_SECONDS ?? 10);
const PARTITIONS = Number(process.env.PROBE_PARTITIONS ?? 8);
const DATA_DIR = process.env.PROBE_DATA_DIR;

const log = (line: string): void => void process.stdout.write(`${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const now = (): number => performance.timeOrigin + performance.now();

/** The stamps of one record's path, by customer id (= record key). */
const STAGES = ['produced', 'acked', 'fetched', 'applied', 'relaySent', 'committed', 'seen'] as const;
type Stage = (typeof STAGES)[number];
const stamps = new Map<string, Partial<Record<Stage, number>>>();
const stamp = (key: string, stage: Stage, at = now()): void => {
  const s = stamps.get(key);
  if (s !== undefined && s[stage] === undefined) s[stage] = at;
};

/** Durations (ms) of named operations. */
const durations = new Map<string, number[]>();
const record = (name: string, ms: number): void => {
  let list = durations.get(name);
  if (list === undefined) durations.set(name, (list = []));
  list.push(ms);
};

/** User + system CPU seconds of a process so far (Linux /proc; NaN elsewhere). */
function processCpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}
const fmt = (ms: number): string => (Number.isNaN(ms) ? '-' : ms.toFixed(1));
function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  return `n=${String(sorted.length).padStart(6)}  p50 ${fmt(percentile(sorted, 50)).padStart(6)}  p90 ${fmt(percentile(sorted, 90)).padStart(6)}  p99 ${fmt(percentile(sorted, 99)).padStart(6)}  max ${fmt(sorted[sorted.length - 1] ?? Number.NaN).padStart(6)} ms`;
}

/** The scorer's group: the probe's own reader is not measured (nor its producer: not transactional). */
const SCORER_GROUP = 'probe-scorer';

// --- hooks (from the outside; production code is unchanged) ---------------------------------------

type AnyFn = (...args: never[]) => unknown;
function wrapMethod<T extends object>(target: T, name: string, wrap: (original: AnyFn) => AnyFn): void {
  const holder = target as Record<string, AnyFn>;
  const original = holder[name];
  if (typeof original !== 'function') throw new Error(`no method ${name} to wrap`);
  holder[name] = wrap(original);
}

function timeAsync(name: string) {
  return (original: AnyFn): AnyFn =>
    async function (this: unknown, ...args: never[]) {
      const started = now();
      try {
        return await (original.apply(this, args) as Promise<unknown>);
      } finally {
        record(name, now() - started);
      }
    };
}

wrapMethod(kafkajs.Kafka.prototype, 'producer', (original) =>
  function (this: unknown, ...args: never[]) {
    const producer = original.apply(this, args) as kafkajs.Producer;
    const options = (args[0] ?? {}) as { transactionalId?: string };
    if (options.transactionalId === undefined) return producer;
    producer.on(producer.events.REQUEST, ({ payload }) => {
      record(`relay ${payload.apiName}`, payload.duration);
      if (payload.pendingDuration > 0) record(`relay ${payload.apiName} (queued)`, payload.pendingDuration);
    });
    wrapMethod(producer, 'transaction', (makeTxn) =>
      async function (this: unknown, ...txnArgs: never[]) {
        const txn = (await (makeTxn.apply(this, txnArgs) as Promise<kafkajs.Transaction>)) as kafkajs.Transaction;
        const started = now();
        let keys: string[] = [];
        wrapMethod(txn, 'send', (send) =>
          function (this: unknown, ...sendArgs: never[]) {
            const { messages } = sendArgs[0] as unknown as kafkajs.ProducerRecord;
            keys = messages.map((m) => String(m.key));
            for (const key of keys) stamp(key, 'relaySent', started);
            return send.apply(this, sendArgs);
          },
        );
        wrapMethod(txn, 'commit', (commit) =>
          async function (this: unknown, ...commitArgs: never[]) {
            await (commit.apply(this, commitArgs) as Promise<void>);
            const at = now();
            if (keys.length > 0) record('relay transaction (send .. EndTxn answered)', at - started);
            for (const key of keys) stamp(key, 'committed', at);
          },
        );
        return txn;
      },
    );
    return producer;
  },
);

wrapMethod(kafkajs.Kafka.prototype, 'consumer', (original) =>
  function (this: unknown, ...args: never[]) {
    const consumer = original.apply(this, args) as kafkajs.Consumer;
    if ((args[0] as unknown as kafkajs.ConsumerConfig).groupId !== SCORER_GROUP) return consumer;
    consumer.on(consumer.events.FETCH, ({ payload }) => record('scorer fetch (kafkajs, incl. broker wait)', payload.duration));
    wrapMethod(consumer, 'run', (run) =>
      function (this: unknown, ...runArgs: never[]) {
        const config = runArgs[0] as unknown as kafkajs.ConsumerRunConfig;
        const eachBatch = config.eachBatch;
        if (eachBatch === undefined) return run.apply(this, runArgs);
        const wrapped: kafkajs.ConsumerRunConfig = {
          ...config,
          eachBatch: (payload) => {
            const at = now();
            for (const m of payload.batch.messages) if (m.key !== null) stamp(m.key.toString(), 'fetched', at);
            return eachBatch(payload);
          },
        };
        return run.apply(this, [wrapped] as never[]);
      },
    );
    return consumer;
  },
);

wrapMethod(OwnedPartition.prototype, 'apply', (original) =>
  async function (this: unknown, ...args: never[]) {
    const started = now();
    const result = await (original.apply(this, args) as Promise<unknown>);
    const at = now();
    record('OwnedPartition.apply (load + engine + commit sent)', at - started);
    for (const r of args[0] as unknown as ReadonlyArray<{ customerId: string }>) stamp(r.customerId, 'applied', at);
    return result;
  },
);
wrapMethod(OwnedPartition.prototype, 'settled', timeAsync('OwnedPartition.settled (commit replies)'));
wrapMethod(StateStore.prototype, 'readOutbox', timeAsync('relay readOutbox (Redis)'));
wrapMethod(StateStore.prototype, 'trimOutbox', timeAsync('relay trimOutbox (Redis)'));

// --- the run ---------------------------------------------------------------------------------------

async function startStack(): Promise<{ brokers: string[]; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'packages/devstack/src/cli.ts', ...(DATA_DIR === undefined ? ['--in-memory'] : ['--data-dir', DATA_DIR]), '--broker-port', '0', '--registry-port', '0', '--partitions', String(PARTITIONS)], {
    cwd: ROOT,
    env: { ...process.env, PYRAMID_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const brokers = await new Promise<string[]>((ok, fail) => {
    child.once('exit', (code) => fail(new Error(`dev-stack exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /^broker (\S+)/.exec(line);
      if (match?.[1] !== undefined) ok(match[1].split(','));
    });
  });
  return { brokers, child };
}

async function main(): Promise<void> {
  const redisServer = await startLocalRedis();
  const stack = await startStack();
  const topics = { transactions: 'probe-tx', tierChanges: 'probe-tiers', dlq: 'probe-dlq' };
  const kafka = createKafkaClient({ brokers: stack.brokers, clientId: 'probe', tls: { enabled: false, rejectUnauthorized: true } });
  const admin = kafka.createAdmin();
  try {
    await admin.connect();
    await admin.ensureTopics([{ topic: topics.transactions, numPartitions: PARTITIONS }]);
    const config = loadConfig({
      PYRAMID_KAFKA_BROKERS: stack.brokers.join(','),
      PYRAMID_REDIS_URL: redisServer.url,
      PYRAMID_TOPIC_TRANSACTIONS: topics.transactions,
      PYRAMID_TOPIC_TIER_CHANGES: topics.tierChanges,
      PYRAMID_TOPIC_DLQ: topics.dlq,
      PYRAMID_GROUP_ID: SCORER_GROUP,
      PYRAMID_KEY_PREFIX: 'probe',
      PYRAMID_POLICY_FILE: resolve(ROOT, 'policies/default.yaml'),
      PYRAMID_INPUT_FORMAT: 'json',
      PYRAMID_CONSUMER_CONCURRENCY: '4',
    });
    const scorer = createScorer(config);
    await scorer.start();
    while (scorer.assignment().length < PARTITIONS) await sleep(50);

    const reader = kafka.createConsumer({ groupId: 'probe-reader', maxWaitTimeMs: 10, partitionsConsumedConcurrently: PARTITIONS });
    await reader.connect();
    await reader.subscribe([topics.tierChanges], { fromBeginning: false });
    await reader.run(async (batch) => {
      const at = now();
      for (const r of batch.records) if (r.key !== null) stamp(r.key.toString(), 'seen', at);
    });
    await sleep(3_000);

    const producer = kafka.createProducer();
    await producer.connect();
    const perTick = Math.max(1, Math.round(RATE / 100));
    const loopDelay = monitorEventLoopDelay({ resolution: 5 });
    loopDelay.enable();
    const cpuBefore = { probe: processCpuSeconds(process.pid), broker: processCpuSeconds(stack.child.pid) };
    const started = Date.now();
    let sent = 0;
    const sends: Promise<void>[] = [];
    while (Date.now() - started < SECONDS * 1000) {
      const records: OutgoingRecord[] = [];
      const keys: string[] = [];
      const at = now();
      for (let i = 0; i < perTick; i++, sent++) {
        const customerId = `probe-${sent}`;
        keys.push(customerId);
        stamps.set(customerId, { produced: at });
        records.push({ key: customerId, value: JSON.stringify({ transactionId: `probe-tx-${sent}`, customerId, kind: 'PURCHASE', amountMinor: 12_345, currency: 'CNY', eventTime: Date.now() }) });
      }
      sends.push(
        producer.send(topics.transactions, records).then(() => {
          const acked = now();
          for (const key of keys) stamp(key, 'acked', acked);
        }),
      );
      await sleep(Math.max(0, started + (sent / RATE) * 1000 - Date.now()));
    }
    await Promise.all(sends);
    const steadySeconds = (Date.now() - started) / 1000;
    loopDelay.disable();
    const cpu = { probe: processCpuSeconds(process.pid) - cpuBefore.probe, broker: processCpuSeconds(stack.child.pid) - cpuBefore.broker };
    await sleep(3_000);
    await producer.disconnect();
    await reader.disconnect();
    await scorer.stop();

    // The first 10% warm up the cache, the connections and the JIT.
    const all = [...stamps.values()].slice(Math.floor(stamps.size * 0.1));
    const complete = all.filter((s) => STAGES.every((stage) => s[stage] !== undefined));
    log(`latency probe (broker ${DATA_DIR === undefined ? 'in memory' : `on disk, ${DATA_DIR}`}): ${RATE} events/s for ${SECONDS} s over ${PARTITIONS} partitions; ${sent} sent, ${complete.length} of ${all.length} measured records followed through every stage`);
    log(`this process (scorer + producer + reader): ${Math.round((100 * cpu.probe) / steadySeconds)}% of a core; broker process: ${Math.round((100 * cpu.broker) / steadySeconds)}%; event-loop delay p50 ${fmt(loopDelay.percentile(50) / 1e6)} ms, p99 ${fmt(loopDelay.percentile(99) / 1e6)} ms`);
    log('\nper record, stage to stage:');
    for (let i = 1; i < STAGES.length; i++) {
      const from = STAGES[i - 1] as Stage;
      const to = STAGES[i] as Stage;
      log(`  ${`${from} -> ${to}`.padEnd(58)} ${summary(complete.map((s) => (s[to] as number) - (s[from] as number)))}`);
    }
    log(`  ${'produced -> seen (end to end)'.padEnd(58)} ${summary(complete.map((s) => (s.seen as number) - (s.produced as number)))}`);
    log('\noperations:');
    for (const [name, list] of [...durations].sort(([a], [b]) => a.localeCompare(b))) log(`  ${name.padEnd(58)} ${summary(list)}`);
  } finally {
    await admin.disconnect().catch(() => undefined);
    stack.child.kill('SIGTERM');
    await new Promise((r) => stack.child.once('exit', r));
    await redisServer.stop();
  }
}

await main();
process.exit(0);
