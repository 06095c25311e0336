/**
 * End-to-end benchmark of the scorer (npm run bench:e2e). Prints numbers; asserts nothing.
 *
 *   1. preloads N transactions over C customers (JSON, event times over the last two days) into the
 *      embedded broker, which runs as its
 *      own child process (the dev-stack CLI, `npm run dev-stack`) so it has its own core; Redis is a private child too;
 *   2. measures the raw consume rate of that topic with a bare consumer (kafkajs through
 *      src/kafka, handler does nothing);
 *   3. starts the scorer as a child process (`pyramid run`, wall clock) on the backlog and measures
 *      end-to-end events/s until every record is applied and every tier change published;
 *   4. produces at a steady rate (default 10k events/s) transactions of new customers (each one
 *      yields a tier change) and measures transaction -> tier-change latency, p50 / p99.
 *
 * Options (env): BENCH_EVENTS (1000000), BENCH_CUSTOMERS (200000), BENCH_PARTITIONS (8),
 * BENCH_CONCURRENCY (4), BENCH_MAX_BYTES (per partition fetch, 1048576), BENCH_RATE (10000), BENCH_STEADY_SECONDS (20), BENCH_PROFILE (dir for a CPU
 * profile of the scorer process), BENCH_POLICY (a policies/ file name, default `default`).
 *
 * `-- --balances <ratio>` (or BENCH_BALANCES): a co-partitioned balances topic too, its
 * snapshots `ratio` of the BENCH_EVENTS records (so a run with balances and one without move the
 * same number of records); the scorer consumes both, and the raw consume reads both.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { startLocalRedis } from '../src/cli/local-redis.js';
import { createKafkaClient } from '../src/kafka/client.js';
import type { OutgoingRecord } from '../src/kafka/types.js';
import { runSimulator } from '../src/simulator/run.js';
import { StateStore } from '../src/state/store.js';

const ROOT = resolve(import.meta.dirname, '..');
const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 200_000);
const PARTITIONS = Number(process.env.BENCH_PARTITIONS ?? 8);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const MAX_BYTES = Number(process.env.BENCH_MAX_BYTES ?? 1_048_576);
const RATE = Number(process.env.BENCH_RATE ?? 10_000);
const STEADY_SECONDS = Number(process.env.BENCH_STEADY_SECONDS ?? 20);
const DAY = 86_400_000;
const POLICY = resolve(ROOT, `policies/${process.env.BENCH_POLICY ?? 'default'}.yaml`);

/** `--balances <ratio>` after `npm run bench:e2e --`, or BENCH_BALANCES. */
function balanceRatio(): number {
  const at = process.argv.indexOf('--balances');
  const text = at >= 0 ? process.argv[at + 1] : process.env.BENCH_BALANCES;
  if (text === undefined || text === '') return 0;
  const ratio = Number(text);
  if (!(ratio > 0 && ratio < 1)) throw new Error(`--balances must be a share of the records above 0 and below 1, got '${text}'`);
  return ratio;
}
const BALANCES = balanceRatio();

const log = (line: string): void => void process.stdout.write(`${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function tsxChild(entry: string, args: string[], env: Record<string, string>, nodeArgs: string[]): ChildProcess {
  return spawn(process.execPath, [...nodeArgs, '--import', 'tsx', entry, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
}

function cli(args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []): ChildProcess {
  return tsxChild('src/cli/main.ts', args, env, nodeArgs);
}

async function startStack(): Promise<{ brokers: string[]; child: ChildProcess }> {
  const child = tsxChild('packages/devstack/src/cli.ts', ['--in-memory', '--broker-port', '0', '--registry-port', '0', '--partitions', String(PARTITIONS)], { PYRAMID_LOG_LEVEL: 'warn' }, []);
  const brokers = await new Promise<string[]>((ok, fail) => {
    child.once('exit', (code) => fail(new Error(`dev-stack exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /^broker (\S+)/.exec(line);
      if (match?.[1] !== undefined) ok(match[1].split(','));
    });
  });
  return { brokers, child };
}

/** User + system CPU seconds of a process so far (Linux /proc; NaN elsewhere). */
function processCpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function main(): Promise<void> {
  const redisServer = await startLocalRedis();
  const stack = await startStack();
  const children: ChildProcess[] = [stack.child];
  const kafkaConfig = { brokers: stack.brokers, clientId: 'bench', tls: { enabled: false, rejectUnauthorized: true } };
  const kafka = createKafkaClient(kafkaConfig);
  const redis = new Redis(redisServer.url);
  const topics = { transactions: 'bench-tx', tierChanges: 'bench-tiers', dlq: 'bench-dlq', balances: 'bench-balances' };
  const inputs = BALANCES > 0 ? [topics.transactions, topics.balances] : [topics.transactions];
  try {
    const transactions = Math.round(EVENTS * (1 - BALANCES));
    log(
      `pyramid e2e bench: ${EVENTS} records (${BALANCES > 0 ? `${transactions} transactions + about ${EVENTS - transactions} balance snapshots, ${Math.round(BALANCES * 100)} %` : 'transactions only'}), ` +
        `${CUSTOMERS} customers, ${PARTITIONS} partitions, scorer concurrency ${CONCURRENCY}, ${MAX_BYTES} bytes per partition fetch, policy ${POLICY}`,
    );
    const admin = kafka.createAdmin();
    await admin.connect();
    await admin.ensureTopics(inputs.map((topic) => ({ topic, numPartitions: PARTITIONS })));

    // 1. Preload.
    let started = Date.now();
    const producer = kafka.createProducer();
    const preloaded = await runSimulator({
      producer,
      topic: topics.transactions,
      ...(BALANCES > 0 ? { balances: { topic: topics.balances, ratio: BALANCES } } : {}),
      format: 'json',
      seed: 1,
      customers: CUSTOMERS,
      count: transactions,
      startTime: Date.now() - 2 * DAY,
      spacingMs: (2 * DAY - 60_000) / transactions,
      batchSize: 5_000,
    });
    log(`preload: ${preloaded.sent} records (${preloaded.balances} balance snapshots) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    let total = 0;
    for (const topic of inputs) total += (await admin.topicOffsets(topic)).reduce((s, o) => s + Number(o.high), 0);

    // 2. Raw consume rate of the same topic.
    let consumed = 0;
    const raw = kafka.createConsumer({ groupId: 'bench-raw', maxBytesPerPartition: 1_048_576, partitionsConsumedConcurrently: CONCURRENCY });
    await raw.connect();
    await raw.subscribe(inputs, { fromBeginning: true });
    let rawStart = 0;
    await raw.run(async (batch) => {
      if (rawStart === 0) rawStart = Date.now();
      consumed += batch.records.length;
    });
    while (consumed < total) await sleep(20);
    const rawSeconds = (Date.now() - rawStart) / 1000;
    await raw.disconnect();
    const rawRate = total / rawSeconds;
    log(`raw consume (kafkajs, no-op handler): ${total} records in ${rawSeconds.toFixed(2)} s = ${Math.round(rawRate)} records/s`);

    // 3. The scorer on the backlog.
    const store = new StateStore({ redis, prefix: 'bench', partitionCount: PARTITIONS });
    const scorer = cli(['run'], {
      PYRAMID_KAFKA_BROKERS: stack.brokers.join(','),
      PYRAMID_REDIS_URL: redisServer.url,
      PYRAMID_TOPIC_TRANSACTIONS: topics.transactions,
      PYRAMID_TOPIC_TIER_CHANGES: topics.tierChanges,
      PYRAMID_TOPIC_DLQ: topics.dlq,
      PYRAMID_GROUP_ID: 'bench-scorer',
      PYRAMID_KEY_PREFIX: 'bench',
      PYRAMID_POLICY_FILE: POLICY,
      PYRAMID_INPUT_FORMAT: 'json',
      PYRAMID_HTTP_PORT: '0',
      PYRAMID_LOG_LEVEL: 'warn',
      PYRAMID_CONSUMER_CONCURRENCY: String(CONCURRENCY),
      PYRAMID_CONSUMER_MAX_BYTES_PER_PARTITION: String(MAX_BYTES),
      ...(BALANCES > 0 ? { PYRAMID_TOPIC_BALANCES: topics.balances } : {}),
    },
    // The young-generation size the Dockerfile runs with; BENCH_PROFILE=<dir>: a V8 CPU profile
    // of the scorer process, for tuning.
    ['--max-semi-space-size=64', ...(process.env.BENCH_PROFILE === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`])]);
    children.push(scorer);
    const applied = async (): Promise<number> => {
      let sum = 0;
      // Both watermarks of each partition: transactions and (with --balances) balances.
      for (let p = 0; p < PARTITIONS; p++) {
        const meta = await store.readMeta(topics.transactions, p);
        sum += (meta?.lastOffset ?? -1) + 1 + (meta?.balanceLastOffset ?? -1) + 1;
      }
      return sum;
    };
    const pending = async (): Promise<number> => {
      let sum = 0;
      for (let p = 0; p < PARTITIONS; p++) sum += await store.outboxLength(topics.transactions, p);
      return sum;
    };
    const redisCpu = async (): Promise<number> => {
      const info = await redis.info('cpu');
      const get = (name: string): number => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
      return get('used_cpu_sys') + get('used_cpu_user');
    };
    while ((await applied()) === 0) await sleep(5);
    started = Date.now();
    const cpuBefore = await redisCpu();
    const brokerBefore = processCpuSeconds(stack.child.pid);
    const scorerBefore = processCpuSeconds(scorer.pid);
    while ((await applied()) < total || (await pending()) > 0) await sleep(20);
    const e2eSeconds = (Date.now() - started) / 1000;
    const redisBusy = (await redisCpu()) - cpuBefore;
    const brokerBusy = processCpuSeconds(stack.child.pid) - brokerBefore;
    const scorerBusy = processCpuSeconds(scorer.pid) - scorerBefore;
    const e2eRate = total / e2eSeconds;
    let changes = 0;
    for (let p = 0; p < PARTITIONS; p++) changes += (await store.readMeta(topics.transactions, p))?.outboxSeq ?? 0;
    log(`scorer end to end (decode, validate, engine, fenced commit, publish ${changes} tier changes, offset commit): ${total} records in ${e2eSeconds.toFixed(2)} s = ${Math.round(e2eRate)} events/s`);
    log(`ratio to raw consume: ${(e2eRate / rawRate).toFixed(2)}x`);
    log(`redis-server CPU during that phase: ${redisBusy.toFixed(1)} s of ${e2eSeconds.toFixed(1)} s (${Math.round((100 * redisBusy) / e2eSeconds)}% of one core; ${((1e6 * redisBusy) / total).toFixed(1)} µs per record)`);
    // Redis and the scorer each run on one core: their CPU per record sets the ceilings; they also
    // show how fast this machine is right now (the same run varies with what else the host does).
    log(`Redis ceiling at that cost: ${Math.round(total / redisBusy)} events/s; end to end reached ${Math.round((100 * e2eRate * redisBusy) / total)}% of it`);
    log(`scorer process CPU: ${scorerBusy.toFixed(1)} s (${Math.round((100 * scorerBusy) / e2eSeconds)}% of one core; ${((1e6 * scorerBusy) / total).toFixed(1)} µs per record), broker process CPU: ${brokerBusy.toFixed(1)} s (${Math.round((100 * brokerBusy) / e2eSeconds)}%), on ${availableParallelism()} cores`);

    // Settle: no timer due and nothing pending, so the steady phase measures the steady state.
    const settled = async (): Promise<boolean> => {
      for (let p = 0; p < PARTITIONS; p++) {
        if ((await redis.zcount(store.keys(topics.transactions, p).due, '-inf', Date.now())) > 0) return false;
      }
      return (await pending()) === 0;
    };
    while (!(await settled())) await sleep(100);

    // 4. Latency at a steady rate: each transaction is a new customer's first, so each yields a change.
    const produceTimes = new Map<string, number>();
    const latencies: number[] = [];
    const reader = kafka.createConsumer({ groupId: 'bench-latency', maxWaitTimeMs: 10, partitionsConsumedConcurrently: PARTITIONS });
    await reader.connect();
    await reader.subscribe([topics.tierChanges], { fromBeginning: false });
    await reader.run(async (batch) => {
      const now = Date.now();
      for (const record of batch.records) {
        const key = record.key?.toString() ?? '';
        const sent = produceTimes.get(key);
        if (sent !== undefined) {
          latencies.push(now - sent);
          produceTimes.delete(key);
        }
      }
    });
    await sleep(3_000);
    const steady = kafka.createProducer();
    await steady.connect();
    const perTick = Math.max(1, Math.round(RATE / 100));
    const steadyCpu = { scorer: processCpuSeconds(scorer.pid), broker: processCpuSeconds(stack.child.pid), redis: await redisCpu() };
    const steadyStart = Date.now();
    let sent = 0;
    while (Date.now() - steadyStart < STEADY_SECONDS * 1000) {
      const records: OutgoingRecord[] = [];
      const now = Date.now();
      for (let i = 0; i < perTick; i++, sent++) {
        const customerId = `lat-${sent}`;
        produceTimes.set(customerId, now);
        records.push({ key: customerId, value: JSON.stringify({ transactionId: `lat-tx-${sent}`, customerId, kind: 'PURCHASE', amountMinor: 12_345, currency: 'CNY', eventTime: now }) });
      }
      void steady.send(topics.transactions, records);
      const due = steadyStart + ((sent / RATE) * 1000);
      await sleep(Math.max(0, due - Date.now()));
    }
    await sleep(3_000);
    // Each record of the steady phase yields a tier change, so this is the cost of a record and its
    // publication (the backlog above publishes one change per five records).
    const perRecord = (seconds: number): string => `${((1e6 * seconds) / sent).toFixed(1)} µs per record`;
    log(
      `steady phase CPU: scorer ${perRecord(processCpuSeconds(scorer.pid) - steadyCpu.scorer)}, broker ${perRecord(processCpuSeconds(stack.child.pid) - steadyCpu.broker)}, ` +
        `Redis ${perRecord((await redisCpu()) - steadyCpu.redis)} (each record one tier change)`,
    );
    // Where what is missing waits: not yet applied (the scorer's consumption) or applied and still
    // in the outboxes (the relay).
    const endsNow = await admin.topicOffsets(topics.transactions);
    const unapplied = endsNow.reduce((s, o) => s + Number(o.high), 0) - (await applied());
    log(`at the end of the steady phase: ${unapplied} records not yet applied, ${await pending()} changes applied but not yet published`);
    await steady.disconnect();
    await reader.disconnect();
    const measured = latencies.slice(Math.floor(latencies.length * 0.1)).sort((a, b) => a - b);
    log(`steady ${RATE} events/s for ${STEADY_SECONDS} s: ${sent} sent, ${latencies.length} tier changes seen, ${produceTimes.size} missing`);
    log(`latency transaction -> tier change (after 10% warm-up): p50 ${percentile(measured, 50)} ms, p99 ${percentile(measured, 99)} ms, max ${measured[measured.length - 1]} ms`);

    scorer.kill('SIGTERM');
    await new Promise((r) => scorer.once('exit', r));
    await admin.disconnect();
  } finally {
    redis.disconnect();
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    await redisServer.stop();
  }
}

await main();
