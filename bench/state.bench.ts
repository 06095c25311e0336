/**
 * Engine + commit benchmark (a script, not a test): `npm run bench:state`.
 *
 * Starts its own redis-server, pre-builds batches over 100k customers (the default policy, dedupe
 * claims kept for the whole window), and runs them the way the scorer does: per partition in
 * order, each batch in pipelined chunks through an OwnedPartition (cache, engine, one fenced commit
 * per chunk), several partitions at once. Prints events/s, Redis CPU and scorer CPU per event,
 * Redis bytes per customer (dedupe claims apart, per claim) and the naive pattern (one awaited
 * engine call and commit per event) measured in the same run.
 * Targets on a 2-core machine: >= 150k events/s, Redis CPU <= 7 us/event, >= 15x naive,
 * <= 1 KiB of Redis per active customer (dedupe claims counted apart).
 */
import { Redis } from 'ioredis';
import type { EngineRecord } from '../src/engine/types.js';
import { silentLogger } from '../src/logger.js';
import { CacheBudget } from '../src/pipeline/customer-cache.js';
import { OwnedPartition } from '../src/pipeline/owned-partition.js';
import { policyContentHash } from '../src/policy/content-hash.js';
import { loadPolicyFile } from '../src/policy/load.js';
import type { CompiledPolicy } from '../src/policy/types.js';
import { customerShardKey, encodeCustomer } from '../src/state/layout.js';
import type { CustomerState } from '../src/engine/types.js';
import { StateStore } from '../src/state/store.js';
import { startRedisServer } from '../test/helpers/redis-server.js';
import { createRandom } from '../src/simulator/random.js';

const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 100_000);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 500_000);
/** Records per batch (a Kafka fetch of ~1 MiB of JSON holds ~5000) and per engine call and commit. */
const BATCH = Number(process.env.BENCH_BATCH ?? 5000);
const CHUNK = Number(process.env.BENCH_CHUNK ?? 1000);
const PARTITIONS = 4;
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 4);
const NAIVE_EVENTS = Number(process.env.BENCH_NAIVE_EVENTS ?? 20_000);
const DAY = 86_400_000;
const TOPIC = 'transactions';

interface Batch {
  partition: number;
  records: EngineRecord[];
  now: number;
}

/** Events in time order over 60 days, 1 % re-sent transaction ids, 8 % refunds. */
function buildBatches(count: number, startOffset: number[], seed: number, startDay = 0): Batch[] {
  const source = createRandom(seed);
  const random = (): number => source.next();
  const start = Date.UTC(2026, 8, 1) + startDay * DAY;
  const perPartition: EngineRecord[][] = Array.from({ length: PARTITIONS }, () => []);
  const offsets = [...startOffset];
  for (let i = 0; i < count; i++) {
    const customer = Math.floor(random() * CUSTOMERS);
    const partition = customer % PARTITIONS;
    const list = perPartition[partition] as EngineRecord[];
    const eventTime = start + Math.floor((i / count) * 60 * DAY);
    const resend = list.length > 0 && random() < 0.01 ? list[Math.floor(random() * list.length)] : undefined;
    list.push({
      offset: (offsets[partition] = (offsets[partition] ?? -1) + 1),
      transactionId: resend?.transactionId ?? `tx-${seed}-${i}`,
      customerId: `cust-${customer.toString().padStart(6, '0')}`,
      kind: random() < 0.08 ? 'refund' : 'purchase',
      // Retail-like spend: log-uniform from 5 to 20,000 CNY.
      amountMinor: Math.floor(500 * Math.exp(random() * Math.log(4000))),
      eventTime,
    });
  }
  const batches: Batch[] = [];
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const list = perPartition[partition] as EngineRecord[];
    for (let i = 0; i < list.length; i += BATCH) {
      const records = list.slice(i, i + BATCH);
      batches.push({ partition, records, now: Math.max(...records.map((r) => r.eventTime)) + 1000 });
    }
  }
  // Interleave partitions the way a consumer receives them.
  return batches.sort((a, b) => (a.records[0]?.eventTime ?? 0) - (b.records[0]?.eventTime ?? 0));
}

type Totals = { applied: number; duplicate: number; late: number; stale: number; changes: number; timersFired: number };

/** One claimed OwnedPartition per partition, as a scorer owning all of them has. */
async function claimAll(redis: Redis, policy: CompiledPolicy, prefix: string): Promise<{ store: StateStore; partitions: OwnedPartition[] }> {
  const store = new StateStore({ redis, prefix, partitionCount: PARTITIONS });
  const budget = new CacheBudget(1_000_000);
  const partitions = Array.from(
    { length: PARTITIONS },
    (_, partition) =>
      new OwnedPartition({ store, topic: TOPIC, partition, policy, policyHash: policyContentHash(policy), clock: 'wall', dedupeHorizonMs: null, budget, logger: silentLogger }),
  );
  for (const owned of partitions) await owned.claim();
  return { store, partitions };
}

/** Apply batches the way the scorer does: each partition in order, up to IN_FLIGHT batches at once. */
async function runBatched(partitions: OwnedPartition[], batches: Batch[]): Promise<Totals> {
  const totals = { applied: 0, duplicate: 0, late: 0, stale: 0, changes: 0, timersFired: 0 };
  // Batches of one partition stay in order (chained); different partitions run concurrently.
  const chains = new Map<number, Promise<void>>();
  const inFlight = new Set<Promise<void>>();
  for (const batch of batches) {
    const owned = partitions[batch.partition] as OwnedPartition;
    const previous = chains.get(batch.partition) ?? Promise.resolve();
    const run = previous.then(async () => {
      for (let from = 0; from < batch.records.length; from += CHUNK) {
        const counts = await owned.apply(batch.records.slice(from, from + CHUNK), batch.now);
        for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += counts[k];
      }
      await owned.settled();
    });
    chains.set(batch.partition, run);
    inFlight.add(run);
    void run.finally(() => inFlight.delete(run));
    if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return totals;
}

/** CPU seconds of Redis's main thread: steadier than wall time when other work shares the cores. */
async function redisCpu(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const read = (name: string): number => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return read('used_cpu_user_main_thread') + read('used_cpu_sys_main_thread');
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

const server = await startRedisServer();
const redis = new Redis(server.url);
try {
  const policy = await loadPolicyFile(new URL('../policies/default.yaml', import.meta.url).pathname);
  console.log(`redis ${server.url}; policy ${policy.name} ${policy.version}; ${fmt(CUSTOMERS)} customers, ${fmt(EVENTS)} events, batches of ${BATCH} in chunks of ${CHUNK}, ${PARTITIONS} partitions, ${IN_FLIGHT} batches in flight`);

  // --- batched: the scorer's path ------------------------------------------------------------
  const batches = buildBatches(EVENTS, Array(PARTITIONS).fill(-1), 1);
  const { store, partitions } = await claimAll(redis, policy, 'bench');
  const memBefore = await usedMemory(redis);
  const cpuBefore = await redisCpu(redis);
  const scorerBefore = process.cpuUsage();
  const started = performance.now();
  const totals = await runBatched(partitions, batches);
  const seconds = (performance.now() - started) / 1000;
  const scorerCpu = process.cpuUsage(scorerBefore);
  const batchedRate = EVENTS / seconds;
  console.log(`batched   ${fmt(batchedRate)} events/s  (${batches.length} batches in ${seconds.toFixed(2)} s; applied ${fmt(totals.applied)}, duplicate ${fmt(totals.duplicate)}, late ${fmt(totals.late)}, changes ${fmt(totals.changes)}, timers ${fmt(totals.timersFired)})`);
  const cpu = (await redisCpu(redis)) - cpuBefore;
  console.log(`          Redis CPU ${cpu.toFixed(2)} s = ${((cpu / EVENTS) * 1e6).toFixed(1)} us/event (main thread; the ceiling when Redis is the bottleneck: ${fmt(EVENTS / cpu)} events/s)`);
  const scorerSeconds = (scorerCpu.user + scorerCpu.system) / 1e6;
  console.log(`          scorer CPU ${scorerSeconds.toFixed(2)} s = ${((scorerSeconds / EVENTS) * 1e6).toFixed(1)} us/event (this process: engine, encoding, client)`);

  // Time Redis itself spent in the script, to tell Redis-bound from client-bound runs.
  if (process.env.BENCH_STATS) console.log((await redis.info('commandstats')).split('\n').filter((l) => l.startsWith('cmdstat_')).join('\n'));
  // --- memory --------------------------------------------------------------------------------
  const memAfter = await usedMemory(redis);
  let outboxEntries = 0;
  let outboxBytes = 0;
  let txBytes = 0;
  let dueBytes = 0;
  let customerBytes = 0;
  let known = 0;
  let customers = 0;
  let claims = 0;
  for (let p = 0; p < PARTITIONS; p++) {
    const keys = store.keys(TOPIC, p);
    claims += await redis.zcard(keys.tx);
    outboxEntries += await store.outboxLength(TOPIC, p);
    outboxBytes += Number(await redis.memory('USAGE', keys.outbox, 'SAMPLES', '0'));
    txBytes += Number(await redis.memory('USAGE', keys.tx, 'SAMPLES', '0'));
    dueBytes += Number(await redis.memory('USAGE', keys.due, 'SAMPLES', '0'));
    customers += await redis.zcard(keys.due);
    // Customers live as fields of the partition's sub-hashes (src/state/keys.ts).
    for (let shard = 0; shard < keys.customerShards; shard++) {
      const key = customerShardKey(keys, shard);
      known += await redis.hlen(key);
      customerBytes += Number(await redis.memory('USAGE', key, 'SAMPLES', '0'));
    }
  }
  const hashAvg = customerBytes / Math.max(1, known);
  const total = memAfter - memBefore;
  console.log(`memory    ${fmt((total - txBytes) / known)} B/customer without dedupe claims (used_memory delta ${fmt(total)} B, of it claims ${fmt(txBytes)} B; ${fmt(known)} customers; outbox not yet relayed: ${fmt(outboxEntries)} entries)`);
  console.log(`          customer sub-hashes ${fmt(hashAvg)} B, timer set ${fmt(dueBytes / known)} B, outbox ${fmt(outboxBytes / known)} B per customer; ${fmt(customers)} with a timer`);
  console.log(`          dedupe claims ${fmt(txBytes / Math.max(1, claims))} B per claim (${fmt(claims)} claims: one per transaction still in the window)`);
  for (let p = 0; p < PARTITIONS; p++) {
    const entries = await store.readOutbox(TOPIC, p, '-', 1_000_000);
    const last = entries[entries.length - 1];
    if (last) await store.trimOutbox(TOPIC, p, last.id);
  }
  const memRelayed = await usedMemory(redis);
  console.log(`          after the relay trims the outbox: ${fmt((memRelayed - memBefore - txBytes) / known)} B/customer without dedupe claims`);
  const sizes = storedValueSizes();
  console.log(`          stored value of one customer with 30 buckets: plain ${sizes.plain} B; with a margin in every bucket ${sizes.profit} B; and 3 accounts with a snapshot on 30 days ${sizes.balances} B`);

  // --- steady state: a second pass of the same size over the same, now known, customers -----------
  // (the line above includes every customer's first classification; this one is what a running
  // scorer sees day to day). The default line above stays the target.
  const lastOffsets: number[] = Array(PARTITIONS).fill(-1);
  for (const b of batches) for (const r of b.records) lastOffsets[b.partition] = Math.max(lastOffsets[b.partition] ?? -1, Number(r.offset));
  const second = buildBatches(EVENTS, lastOffsets, 3, 60);
  const cpuSecond = await redisCpu(redis);
  const secondStarted = performance.now();
  const secondTotals = await runBatched(partitions, second);
  const secondSeconds = (performance.now() - secondStarted) / 1000;
  const secondCpu = (await redisCpu(redis)) - cpuSecond;
  console.log(`steady    ${fmt(EVENTS / secondSeconds)} events/s  (second pass over known customers, days 60-120: ${second.length} calls in ${secondSeconds.toFixed(2)} s; applied ${fmt(secondTotals.applied)}, duplicate ${fmt(secondTotals.duplicate)}, changes ${fmt(secondTotals.changes)}, timers ${fmt(secondTotals.timersFired)}; Redis CPU ${((secondCpu / EVENTS) * 1e6).toFixed(1)} us/event)`);

  // --- naive: one awaited load and commit per event ----------------------------------------------
  const { partitions: naivePartitions } = await claimAll(redis, policy, 'naive');
  const naive = buildBatches(NAIVE_EVENTS, Array(PARTITIONS).fill(-1), 2);
  const naiveStarted = performance.now();
  for (const batch of naive) {
    const owned = naivePartitions[batch.partition] as OwnedPartition;
    for (const record of batch.records) {
      await owned.apply([record], batch.now);
      await owned.settled();
    }
  }
  const naiveRate = NAIVE_EVENTS / ((performance.now() - naiveStarted) / 1000);
  console.log(`naive     ${fmt(naiveRate)} events/s  (one awaited load and commit per event, ${fmt(NAIVE_EVENTS)} events)`);
  console.log(`ratio     ${(batchedRate / naiveRate).toFixed(1)}x`);
} finally {
  redis.disconnect();
  await server.stop();

}

/**
 * Bytes of the stored customer value (src/state/layout.ts) for typical shapes: what profit and
 * balances add per customer, next to the plain encoding every customer without them keeps.
 */
function storedValueSizes(): { plain: number; profit: number; balances: number } {
  const day = 19_700;
  const buckets = Array.from({ length: 30 }, (_, i) => ({ index: day + i * 12, monetary: 128_450 + i * 77, frequency: 1 + (i % 3) }));
  const plain: CustomerState = { buckets, lastPurchaseAt: (day + 348) * 86_400_000 + 41_230_000, tier: 'medium', tierSince: (day + 200) * 86_400_000, pendingDowngradeSince: null, seq: 4, timerAt: (day + 365) * 86_400_000, signalSeq: 0, nearUpgradeAt: null };
  const profit: CustomerState = { ...plain, buckets: buckets.map((b, i) => ({ ...b, profit: 9_120 - i * 311 })) };
  const balances: CustomerState = {
    ...profit,
    balances: {
      baseSum: 35_120_000,
      accounts: [
        { accountId: 'card', balanceMinor: -412_300, asOf: (day + 347) * 86_400_000 },
        { accountId: 'current', balanceMinor: 8_214_500, asOf: (day + 348) * 86_400_000 },
        { accountId: 'savings', balanceMinor: 27_000_000, asOf: (day + 300) * 86_400_000 },
      ],
      // Snapshots at 17:00 of their day (a mid-day change: a long offset weight).
      buckets: Array.from({ length: 30 }, (_, i) => ({ index: day + i * 12, offsetWeight: BigInt(1_000 + i) * 61_200_000n, endSum: 35_120_000 + i * 1_000 })),
    },
  };
  return { plain: encodeCustomer(plain).length, profit: encodeCustomer(profit).length, balances: encodeCustomer(balances).length };
}
