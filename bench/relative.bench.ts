/**
 * Relative-tier benchmark (a script, not a test): `npm run bench:relative`.
 *
 * Starts its own redis-server and seeds 1M customers over 16 partitions directly (one bucket
 * each, classified under epoch 1 of pyramid-share.yaml, or under default.yaml for the absolute
 * run). Then, in BENCH_ROUNDS interleaved rounds (default 5; the order alternates, so drift in the
 * host's load hits both alike), applies the same purchase batches through OwnedPartitions under
 * both policies (the relative one evaluating against the published boundaries) and prints each
 * round's events/s, this process's CPU and Redis's CPU per event of each (pyramid-share without
 * its hysteresis, so a moved boundary moves customers at once), and the median of the rounds'
 * relative / absolute ratios, so one noisy round cannot decide it; then one boundary recompute by the coordinator over all 16 partitions (its
 * time, split into reading the stored state and ranking) and the BOUNDARY re-evaluation it
 * causes (events and time), checked against a full sort of the stored state.
 * Targets: one recompute <= 1 s; relative >= 0.8x the absolute policy's events/s.
 */
import { Redis } from 'ioredis';
import { rollingAggregates } from '../src/engine/aggregates.js';
import { computeBoundaries, inRankedPopulation, rankedValues, type RankedCustomer, type RelativeBoundaries } from '../src/engine/boundaries.js';
import { rawTier } from '../src/engine/evaluate.js';
import type { CustomerState, EngineRecord } from '../src/engine/types.js';
import { Instrumentation } from '../src/instrumentation.js';
import { silentLogger } from '../src/logger.js';
import { CacheBudget } from '../src/pipeline/customer-cache.js';
import { OwnedPartition } from '../src/pipeline/owned-partition.js';
import { startBoundaryCoordinator, watchBoundaries } from '../src/pipeline/relative-boundaries.js';
import { policyContentHash } from '../src/policy/content-hash.js';
import { loadPolicyFile } from '../src/policy/load.js';
import type { CompiledPolicy } from '../src/policy/types.js';
import { customerKey, encodeCustomer, META, partitionKeys } from '../src/state/layout.js';
import { RankingStore } from '../src/state/ranking.js';
import { StateStore } from '../src/state/store.js';
import { startRedisServer } from '../test/helpers/redis-server.js';
import { createRandom } from '../src/simulator/random.js';

const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 1_000_000);
const PARTITIONS = 16;
const EVENTS = Number(process.env.BENCH_EVENTS ?? 200_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BATCH = 5000;
const CHUNK = 1000;
const IN_FLIGHT = 4;
const DAY = 86_400_000;
const TOPIC = 'transactions';
const NOW = Date.UTC(2026, 10, 1);

const idOf = (i: number): string => `cust-${i.toString().padStart(7, '0')}`;

/** Every customer's seeded state (tier still unset): one bucket of log-uniform spend in the last 30 days. */
function seedStates(policy: CompiledPolicy): CustomerState[] {
  const source = createRandom(7);
  const random = (): number => source.next();
  return Array.from({ length: CUSTOMERS }, () => {
    const at = NOW - Math.floor(random() * 30) * DAY - 1000;
    const monetary = Math.floor(500 * Math.exp(random() * Math.log(20_000)));
    return { buckets: [{ index: Math.floor(at / policy.bucketMs), monetary, frequency: 1 + Math.floor(random() * 5) }], lastPurchaseAt: at, tier: null, tierSince: NOW - DAY, pendingDowngradeSince: null, seq: 1, timerAt: null, signalSeq: 0, nearUpgradeAt: null };
  });
}

async function seed(redis: Redis, prefix: string, policy: CompiledPolicy, states: CustomerState[], boundaries: RelativeBoundaries | null): Promise<OwnedPartition[]> {
  const store = new StateStore({ redis, prefix, partitionCount: PARTITIONS });
  const ranking = new RankingStore(redis, prefix);
  const policyHash = policyContentHash(policy);
  if (boundaries !== null) {
    const lease = await ranking.holdLease('seeder', 1000);
    if (lease.held) await ranking.publish(lease.token, { policyHash, boundaries });
  }
  const watcher = boundaries === null ? undefined : watchBoundaries({ ranking, policyHash, intervalMs: 3_600_000, logger: silentLogger });
  await watcher?.refresh();
  watcher?.stop();
  const budget = new CacheBudget(2_000_000);
  const partitions: OwnedPartition[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    const owned = new OwnedPartition({ store, topic: TOPIC, partition: p, policy, policyHash, clock: 'wall', dedupeHorizonMs: null, budget, logger: silentLogger, ...(watcher === undefined ? {} : { boundaries: watcher }) });
    await owned.claim();
    partitions.push(owned);
  }
  let pipeline = redis.pipeline();
  for (let i = 0; i < states.length; i++) {
    const id = idOf(i);
    const state = states[i] as CustomerState;
    const snapshot = rollingAggregates(policy, state.buckets, state.lastPurchaseAt, NOW);
    const tier = rawTier(policy, snapshot, NOW, { customerId: id, boundaries });
    const keys = partitionKeys(prefix, TOPIC, i % PARTITIONS);
    pipeline.hset(customerKey(keys, id), id, encodeCustomer({ ...state, tier }));
    // What the commit keeps for a relative policy: the ranked sets.
    if (boundaries !== null && inRankedPopulation(policy, snapshot, NOW)) {
      pipeline.zadd(keys.ranked.monetary, snapshot.monetary, id);
      pipeline.zadd(keys.ranked.frequency, snapshot.frequency, id);
    }
    if (pipeline.length >= 10_000) {
      await pipeline.exec();
      pipeline = redis.pipeline();
    }
  }
  // The seeded state is classified under epoch 1 already: its BOUNDARY pass is done.
  if (boundaries !== null) for (let p = 0; p < PARTITIONS; p++) pipeline.hset(partitionKeys(prefix, TOPIC, p).meta, META.boundaryEpoch, '1');
  await pipeline.exec();
  for (const owned of partitions) await owned.resync().catch(() => undefined);
  return partitions;
}

/** Purchase batches per partition: random known customers, spend log-uniform, at NOW. */
function buildBatches(round: number): { partition: number; records: EngineRecord[] }[] {
  const source = createRandom(100 + round);
  const random = (): number => source.next();
  const lists: EngineRecord[][] = Array.from({ length: PARTITIONS }, () => []);
  for (let i = 0; i < EVENTS; i++) {
    const c = Math.floor(random() * CUSTOMERS);
    const list = lists[c % PARTITIONS] as EngineRecord[];
    list.push({ offset: round * EVENTS + list.length, transactionId: `tx-${round}-${i}`, customerId: idOf(c), kind: 'purchase', amountMinor: Math.floor(500 * Math.exp(random() * Math.log(20_000))), eventTime: NOW - 1000 });
  }
  const batches: { partition: number; records: EngineRecord[] }[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    const list = lists[p] as EngineRecord[];
    for (let i = 0; i < list.length; i += BATCH) batches.push({ partition: p, records: list.slice(i, i + BATCH) });
  }
  return batches;
}

/** What one run of the batches cost: events/s, CPU per event of this process and of Redis, and Redis's busiest commands. */
interface RunCost {
  rate: number;
  scorerMicros: number;
  redisMicros: number;
  /** The commands Redis spent most time in (scripts' inner calls counted apart), µs per event. */
  commands: string;
}

/** Redis's time per command since the last CONFIG RESETSTAT (INFO commandstats), µs per event. */
async function redisCommandMicros(redis: Redis, events: number): Promise<string> {
  const info = await redis.info('commandstats');
  const used = [...info.matchAll(/^cmdstat_(\w+):calls=(\d+),usec=(\d+)/gm)].map(([, name, , usec]) => ({ name: name as string, micros: Number(usec) / events }));
  return used
    .filter((c) => c.name !== 'info' && c.name !== 'config')
    .sort((a, b) => b.micros - a.micros)
    .slice(0, 5)
    .map((c) => `${c.name} ${c.micros.toFixed(1)}`)
    .join(', ');
}

/** User + system CPU seconds Redis has used so far (INFO cpu). */
async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const get = (name: string): number => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return get('used_cpu_sys') + get('used_cpu_user');
}

async function run(redis: Redis, partitions: OwnedPartition[], batches: { partition: number; records: EngineRecord[] }[]): Promise<RunCost> {
  await redis.config('RESETSTAT');
  const redisBefore = await redisCpuSeconds(redis);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const queues = new Map<number, { partition: number; records: EngineRecord[] }[]>();
  for (const b of batches) queues.set(b.partition, [...(queues.get(b.partition) ?? []), b]);
  const work = [...queues.entries()];
  const worker = async (): Promise<void> => {
    for (let next = work.shift(); next !== undefined; next = work.shift()) {
      const owned = partitions[next[0]] as OwnedPartition;
      for (const batch of next[1]) {
        for (let i = 0; i < batch.records.length; i += CHUNK) await owned.apply(batch.records.slice(i, i + CHUNK), NOW);
        await owned.settled();
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const redisMicros = (1e6 * ((await redisCpuSeconds(redis)) - redisBefore)) / EVENTS;
  return { rate: EVENTS / seconds, scorerMicros: (cpu.user + cpu.system) / EVENTS, redisMicros, commands: await redisCommandMicros(redis, EVENTS) };
}

const median = (xs: readonly number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** Every stored customer's ranked values, read by scanning the state (the check of the recompute). */
async function rankedFromState(store: StateStore, policy: CompiledPolicy, partitions: number[]): Promise<RankedCustomer[]> {
  const ranked: RankedCustomer[] = [];
  for (const p of partitions) {
    for await (const { customerId, state } of store.scanCustomers(TOPIC, p)) {
      const values = rankedValues(policy, state, NOW);
      if (values !== null) ranked.push({ customerId, ...values });
    }
  }
  return ranked;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const server = await startRedisServer();
const redis = new Redis(server.url);
try {
  // Without its hysteresis, so every customer a moved boundary crosses changes at once (with the
  // shipped 7-day grace the downgrades would wait a week and show as TIME changes then).
  const share: CompiledPolicy = { ...(await loadPolicyFile('policies/pyramid-share.yaml')), hysteresis: { downgradeGraceMs: 0, downgradeMarginBps: 0 } };
  const absolute = await loadPolicyFile('policies/default.yaml');
  const states = seedStates(share);
  const ranked: RankedCustomer[] = [];
  states.forEach((state, i) => {
    const snapshot = rollingAggregates(share, state.buckets, state.lastPurchaseAt, NOW);
    if (inRankedPopulation(share, snapshot, NOW)) ranked.push({ customerId: idOf(i), monetary: snapshot.monetary, frequency: snapshot.frequency });
  });
  const epoch1 = computeBoundaries(share, ranked, 1, NOW);
  const seedStarted = performance.now();
  const relativeParts = await seed(redis, 'rel', share, states, epoch1);
  const absoluteParts = await seed(redis, 'abs', absolute, states, null);
  console.log(`seeded    ${fmt(CUSTOMERS)} customers over ${PARTITIONS} partitions twice (relative and absolute prefix) in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);

  const costs = { relative: [] as RunCost[], absolute: [] as RunCost[] };
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const batches = buildBatches(round);
    const order = round % 2 === 0 ? (['absolute', 'relative'] as const) : (['relative', 'absolute'] as const);
    const cost = { relative: undefined as RunCost | undefined, absolute: undefined as RunCost | undefined };
    for (const kind of order) cost[kind] = await run(redis, kind === 'relative' ? relativeParts : absoluteParts, batches);
    const [rel, abs] = [cost.relative as RunCost, cost.absolute as RunCost];
    costs.relative.push(rel);
    costs.absolute.push(abs);
    ratios.push(rel.rate / abs.rate);
    const line = (c: RunCost): string => `${fmt(c.rate)} events/s (scorer ${c.scorerMicros.toFixed(1)} µs/event, Redis ${c.redisMicros.toFixed(1)} µs/event)`;
    console.log(`round ${round + 1}   absolute default.yaml ${line(abs)}; relative pyramid-share.yaml ${line(rel)}; ratio ${(rel.rate / abs.rate).toFixed(2)}x`);
  }
  // Where Redis's time went in the last round (evalsha includes its scripts' inner commands).
  console.log(`redis     µs per event by command, last round: absolute ${costs.absolute.at(-1)?.commands}; relative ${costs.relative.at(-1)?.commands}`);
  const medianOf = (kind: 'relative' | 'absolute', field: 'rate' | 'scorerMicros' | 'redisMicros'): number => median(costs[kind].map((c) => c[field]));
  console.log(
    `medians   of ${ROUNDS} interleaved rounds of ${fmt(EVENTS)} purchases: absolute ${fmt(medianOf('absolute', 'rate'))} events/s, scorer ${medianOf('absolute', 'scorerMicros').toFixed(1)} µs/event, Redis ${medianOf('absolute', 'redisMicros').toFixed(1)} µs/event; ` +
      `relative ${fmt(medianOf('relative', 'rate'))} events/s, scorer ${medianOf('relative', 'scorerMicros').toFixed(1)} µs/event, Redis ${medianOf('relative', 'redisMicros').toFixed(1)} µs/event`,
  );
  console.log(`ratio     relative / absolute events/s, median of the rounds ${median(ratios).toFixed(2)}x (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}; target >= 0.8x)`);

  // One recompute by the coordinator: lease, ranked sets of all partitions, publish.
  const store = new StateStore({ redis, prefix: 'rel', partitionCount: PARTITIONS });
  const partitions = Array.from({ length: PARTITIONS }, (_, p) => p);
  const ranking = new RankingStore(redis, 'rel');
  await redis.del('{rel:ranking}:lease');
  const coordinator = startBoundaryCoordinator({ ranking, store, topic: TOPIC, partitions, policy: share, policyHash: policyContentHash(share), instance: 'bench', intervalMs: 3_600_000, leaseMs: 60_000, now: () => NOW, instrumentation: new Instrumentation(), logger: silentLogger });
  const recomputeStarted = performance.now();
  const epoch2 = await coordinator.tick();
  const recomputeSeconds = (performance.now() - recomputeStarted) / 1000;
  await coordinator.stop();
  console.log(`recompute ${recomputeSeconds.toFixed(3)} s for ${fmt(epoch2?.population ?? 0)} ranked customers over ${PARTITIONS} partitions (target <= 1 s); epoch ${epoch2?.epoch ?? 'none'}`);
  // The same boundaries as a full sort of every stored customer would give.
  const sorted = computeBoundaries(share, await rankedFromState(store, share, partitions), 2, NOW);
  console.log(`check     epoch 2 ${JSON.stringify(sorted.cuts) === JSON.stringify(epoch2?.cuts) ? 'equals' : 'DIFFERS FROM'} the boundaries of a full sort of the stored state`);

  // The BOUNDARY re-evaluation epoch 2 causes, every customer of every partition.
  const watched = watchBoundaries({ ranking, policyHash: policyContentHash(share), intervalMs: 3_600_000, logger: silentLogger });
  await watched.refresh();
  watched.stop();
  const passParts = await Promise.all(
    partitions.map(async (p) => {
      const owned = new OwnedPartition({ store, topic: TOPIC, partition: p, policy: share, policyHash: policyContentHash(share), clock: 'wall', dedupeHorizonMs: null, budget: new CacheBudget(2_000_000), logger: silentLogger, boundaries: watched });
      await owned.claim();
      return owned;
    }),
  );
  const passStarted = performance.now();
  let boundaryEvents = 0;
  const queue = [...passParts];
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      for (let owned = queue.shift(); owned !== undefined; owned = queue.shift()) {
        for (;;) {
          const step = await owned.boundaryStep(NOW, 1000);
          boundaryEvents += step.changes;
          if (!step.more) break;
        }
      }
    }),
  );
  const passSeconds = (performance.now() - passStarted) / 1000;
  console.log(`boundary  ${fmt(boundaryEvents)} BOUNDARY events from epoch 2, re-evaluating ${fmt(CUSTOMERS)} customers in ${passSeconds.toFixed(2)} s (${fmt(CUSTOMERS / passSeconds)} customers/s)`);
} finally {
  redis.disconnect();
  await server.stop();
}
