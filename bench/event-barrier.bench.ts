/**
 * Event-clock barrier benchmark (a script, not a test): `npm run bench:barrier`.
 *
 * Starts its own redis-server. The same input (BENCH_CUSTOMERS customers over 8 partitions,
 * BENCH_EVENTS purchases spread over 10 days of event time) is replayed on the event clock through
 * OwnedPartitions under three policies, interleaved, BENCH_ROUNDS rounds, each into a fresh prefix:
 * default.yaml (absolute, no barrier), and pyramid-share.yaml with `ranking.every` 1d and 6h. A
 * relative run stops every partition at each instant, has the coordinator publish the epoch
 * (recompute) and each partition re-evaluate every customer against it (BOUNDARY pass) before
 * going on. Prints per run: events/s over the whole replay, epochs, and the time in recomputes
 * and in BOUNDARY passes; then the medians. No Kafka: what the barrier costs in the scorer and
 * Redis, without the consumer's pause / resume round trips (a coordinator tick, a watcher poll
 * and a re-evaluator pass per instant in a running scorer).
 */
import { Redis } from 'ioredis';
import type { EngineRecord } from '../src/engine/types.js';
import { Instrumentation } from '../src/instrumentation.js';
import { silentLogger } from '../src/logger.js';
import { CacheBudget } from '../src/pipeline/customer-cache.js';
import { OwnedPartition } from '../src/pipeline/owned-partition.js';
import { startBoundaryCoordinator, watchBoundaries, type BoundaryCoordinator, type BoundaryWatcher } from '../src/pipeline/relative-boundaries.js';
import { policyContentHash } from '../src/policy/content-hash.js';
import { loadPolicyFile } from '../src/policy/load.js';
import type { CompiledPolicy } from '../src/policy/types.js';
import { RankingStore } from '../src/state/ranking.js';
import { StateStore } from '../src/state/store.js';
import { startRedisServer } from '../test/helpers/redis-server.js';
import { createRandom } from '../src/simulator/random.js';

const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 10_000);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 60_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PARTITIONS = 8;
const CHUNK = 1000;
const DAY = 86_400_000;
const HOUR = 3_600_000;
const TOPIC = 'transactions';
const START = Date.UTC(2026, 9, 1);

/** Per partition, the purchases in offset order, event times rising over 10 days. */
function buildInput(): EngineRecord[][] {
  const source = createRandom(11);
  const random = (): number => source.next();
  const lists: EngineRecord[][] = Array.from({ length: PARTITIONS }, () => []);
  for (let i = 0; i < EVENTS; i++) {
    const c = Math.floor(random() * CUSTOMERS);
    const list = lists[c % PARTITIONS] as EngineRecord[];
    const eventTime = START + Math.floor((i / EVENTS) * 10 * DAY);
    list.push({ offset: list.length, transactionId: `tx-${i}`, customerId: `cust-${c}`, kind: 'purchase', amountMinor: Math.floor(500 * Math.exp(random() * Math.log(20_000))), eventTime });
  }
  return lists;
}

interface Outcome {
  seconds: number;
  epochs: number;
  recomputeSeconds: number;
  passSeconds: number;
  changes: number;
}

async function replay(redis: Redis, prefix: string, policy: CompiledPolicy, input: EngineRecord[][]): Promise<Outcome> {
  const policyHash = policyContentHash(policy);
  const store = new StateStore({ redis, prefix, partitionCount: PARTITIONS });
  const ranking = new RankingStore(redis, prefix);
  const relative = policy.ranking !== undefined;
  const watcher: BoundaryWatcher | undefined = relative ? watchBoundaries({ ranking, policyHash, intervalMs: 3_600_000, logger: silentLogger }) : undefined;
  const budget = new CacheBudget(2_000_000);
  const partitions: OwnedPartition[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    const owned = new OwnedPartition({ store, topic: TOPIC, partition: p, policy, policyHash, clock: 'event', dedupeHorizonMs: null, budget, logger: silentLogger, ...(watcher === undefined ? {} : { boundaries: watcher }) });
    await owned.claim();
    partitions.push(owned);
  }
  const coordinator: BoundaryCoordinator | undefined = relative
    ? startBoundaryCoordinator({ ranking, store, topic: TOPIC, partitions: partitions.map((o) => o.partition), policy, policyHash, instance: 'bench', intervalMs: 3_600_000, leaseMs: 600_000, ...(policy.ranking?.everyMs === undefined ? {} : { everyMs: policy.ranking.everyMs }), eventClock: true, instrumentation: new Instrumentation(), logger: silentLogger })
    : undefined;
  const outcome: Outcome = { seconds: 0, epochs: 0, recomputeSeconds: 0, passSeconds: 0, changes: 0 };
  const started = performance.now();
  try {
    for (let progress = true; progress; ) {
      progress = false;
      await Promise.all(
        partitions.map(async (owned, p) => {
          const records = input[p] as EngineRecord[];
          while (!owned.holding) {
            const next = Number(owned.nextOffset ?? 0n);
            const chunk = records.slice(next, next + CHUNK);
            if (chunk.length === 0) break;
            const cut = owned.barrierCut(chunk);
            const before = cut === null ? chunk : chunk.slice(0, cut.index);
            if (before.length > 0) await owned.apply(before);
            if (cut !== null) await owned.reachBarrier(cut.instant);
            await owned.settled();
            progress = true;
          }
        }),
      );
      if (coordinator === undefined || watcher === undefined) continue;
      const recompute = performance.now();
      const latest = await ranking.latestEpoch();
      await coordinator.tick();
      outcome.recomputeSeconds += (performance.now() - recompute) / 1000;
      if ((await ranking.latestEpoch()) === latest) continue;
      outcome.epochs += 1;
      progress = true;
      await watcher.refresh();
      const pass = performance.now();
      await Promise.all(partitions.map(async (owned) => {
        while (owned.boundaryPassDue) await owned.boundaryStep(0, 1000);
      }));
      outcome.passSeconds += (performance.now() - pass) / 1000;
    }
  } finally {
    await coordinator?.stop();
    watcher?.stop();
  }
  outcome.seconds = (performance.now() - started) / 1000;
  for (let p = 0; p < PARTITIONS; p++) outcome.changes += (await store.readMeta(TOPIC, p))?.outboxSeq ?? 0;
  return outcome;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const server = await startRedisServer();
const redis = new Redis(server.url);
try {
  const share = await loadPolicyFile('policies/pyramid-share.yaml');
  const withEvery = (everyMs: number): CompiledPolicy => ({ ...share, ranking: { population: 'active-purchasers', everyMs } });
  const variants: [string, CompiledPolicy][] = [
    ['absolute default.yaml', await loadPolicyFile('policies/default.yaml')],
    ['pyramid-share every 1d', withEvery(DAY)],
    ['pyramid-share every 6h', withEvery(6 * HOUR)],
  ];
  const input = buildInput();
  console.log(`input     ${fmt(EVENTS)} purchases of ${fmt(CUSTOMERS)} customers over ${PARTITIONS} partitions, 10 days of event time; ${ROUNDS} interleaved rounds`);
  const results = new Map<string, Outcome[]>(variants.map(([name]) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, policy] of variants) {
      const outcome = await replay(redis, `r${round}-${name.replace(/[^a-z0-9]/g, '')}`, policy, input);
      results.get(name)?.push(outcome);
      console.log(`round ${round + 1}   ${name.padEnd(24)} ${fmt(EVENTS / outcome.seconds)} events/s, ${outcome.epochs} epochs, recompute ${outcome.recomputeSeconds.toFixed(2)} s, BOUNDARY passes ${outcome.passSeconds.toFixed(2)} s, ${fmt(outcome.changes)} changes`);
    }
    await redis.flushall();
  }
  for (const [name, outcomes] of results) {
    const rate = outcomes.map((o) => EVENTS / o.seconds);
    console.log(`median    ${name.padEnd(24)} ${fmt(median(rate))} events/s (${fmt(Math.min(...rate))}-${fmt(Math.max(...rate))}); passes ${median(outcomes.map((o) => o.passSeconds)).toFixed(2)} s, recomputes ${median(outcomes.map((o) => o.recomputeSeconds)).toFixed(2)} s`);
  }
} finally {
  redis.disconnect();
  await server.stop();
}
