import { instantEpoch, nextBarrier } from '../engine/barrier.js';
import { cutRank, keyAtRank, policyCuts, type RankKey, type RelativeBoundaries } from '../engine/boundaries.js';
import type { Instrumentation } from '../instrumentation.js';
import type { OutgoingRecord } from '../kafka/types.js';
import type { Logger } from '../logger.js';
import type { CompiledPolicy, RankedMetric } from '../policy/types.js';
import type { RankingStore } from '../state/ranking.js';
import type { PartitionMeta, StateStore } from '../state/store.js';

/**
 * The boundaries a scorer evaluates against: the latest epoch published for its policy, and any
 * earlier epoch (a BOUNDARY change carries the cut's value in the epoch before).
 */
export interface BoundarySource {
  /** The latest epoch known for this policy; null before the first. */
  current(): RelativeBoundaries | null;
  /** Epoch `epoch` (null for 0, or an epoch of another policy). */
  epoch(epoch: number): Promise<RelativeBoundaries | null>;
}

/** A {@link BoundarySource} that polls the published epochs. */
export interface BoundaryWatcher extends BoundarySource {
  /** Reads the latest epoch now (the poll does this every interval). */
  refresh(): Promise<void>;
  stop(): void;
}

/**
 * Watches the published epochs under a key prefix: one GET per interval, and one HGET per new
 * epoch. Epochs computed for another policy content (a policy switch in progress) are not used.
 */
export function watchBoundaries(options: { ranking: RankingStore; policyHash: string; intervalMs: number; logger: Logger; instrumentation?: Instrumentation }): BoundaryWatcher {
  const { ranking, policyHash } = options;
  const cache = new Map<number, RelativeBoundaries | null>();
  let current: RelativeBoundaries | null = null;
  let stopped = false;

  async function epoch(n: number): Promise<RelativeBoundaries | null> {
    if (n <= 0) return null;
    const cached = cache.get(n);
    if (cached !== undefined) return cached;
    const stored = await ranking.readEpoch(n);
    const boundaries = stored !== null && stored.policyHash === policyHash ? stored.boundaries : null;
    // An epoch not published yet may be later (event-clock epochs are numbered by their instant).
    if (stored !== null) cache.set(n, boundaries);
    return boundaries;
  }

  async function refresh(): Promise<void> {
    const latest = await ranking.latestEpoch();
    if (latest === (current?.epoch ?? 0)) return;
    const boundaries = await epoch(latest);
    if (boundaries === null) return;
    current = boundaries;
    options.instrumentation?.emit('ranking.boundaries', {
      epoch: boundaries.epoch,
      at: boundaries.at,
      population: boundaries.population,
      cuts: boundaries.cuts.map((cut) => ({ metric: cut.metric, bps: cut.bps, rank: cut.rank, value: cut.key?.value ?? null })),
    });
  }

  let timer: NodeJS.Timeout | undefined;
  const tick = (): void => {
    void refresh()
      .catch((err: unknown) => options.logger.warn({ err }, 'reading the relative boundaries failed; retrying'))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, options.intervalMs);
      });
  };
  timer = setTimeout(tick, options.intervalMs);

  return {
    current: () => current,
    epoch,
    refresh,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/**
 * The exact boundaries of every cut of `policy` over the ranked sets of all `partitions` (each
 * partition's commit keeps them: customer id -> ranked value at its last commit), without reading
 * a customer: N is the sets' total size; the value at rank r is found by binary search on the
 * value with one ZCOUNT per partition per step (values are integers), and only the customers tied
 * at that value are read, sorted by id for the tie-break.
 */
export async function rankedSetBoundaries(store: StateStore, topic: string, partitions: readonly number[], policy: CompiledPolicy, epoch: number, at: number): Promise<RelativeBoundaries> {
  const sum = (counts: number[]): number => counts.reduce((a, b) => a + b, 0);
  const population = sum(await store.rankedCountAtLeast(topic, partitions, 'monetary', -Infinity));
  const keys = new Map<string, RankKey>();
  for (const cut of policyCuts(policy)) {
    const rank = cutRank(cut.bps, population);
    const id = `${cut.metric}:${rank}`;
    if (rank === 0 || keys.has(id)) continue;
    const range = await store.rankedRange(topic, partitions, cut.metric);
    if (range === null) continue;
    // The largest value v with at least `rank` customers at or above it.
    let lo = range.min;
    let hi = range.max;
    while (lo < hi) {
      const mid = lo + Math.ceil((hi - lo) / 2);
      if (sum(await store.rankedCountAtLeast(topic, partitions, cut.metric, mid)) >= rank) lo = mid;
      else hi = mid - 1;
    }
    const above = sum(await store.rankedCountAtLeast(topic, partitions, cut.metric, lo + 1));
    keys.set(id, keyAtRank(rank, lo, above, await store.rankedWithValue(topic, partitions, cut.metric, lo)));
  }
  return {
    epoch,
    at,
    population,
    cuts: policyCuts(policy).map((cut) => {
      const rank = cutRank(cut.bps, population);
      return { ...cut, rank, key: keys.get(`${cut.metric}:${rank}`) ?? null };
    }),
  };
}

/** What the coordinator works with. */
export interface BoundaryCoordinatorOptions {
  ranking: RankingStore;
  store: StateStore;
  topic: string;
  /** Every partition of the input topic (the population spans all of them). */
  partitions: readonly number[];
  policy: CompiledPolicy;
  policyHash: string;
  /** This instance's id in the lease. */
  instance: string;
  /** Recompute every this many ms (wall clock, without `everyMs`). */
  intervalMs: number;
  /**
   * The policy's `ranking.every`, ms. Wall clock: recompute at the first tick past each multiple
   * of it (since 1970-01-01) instead of every interval. Event clock: see `eventClock`.
   */
  everyMs?: number;
  /**
   * Event clock (needs `everyMs`): publish the epoch of each boundary instant (multiples of
   * `everyMs`) once every partition has reached it (meta `bt`), numbered by the instant
   * (src/engine/barrier.ts), computed from the ranked sets as the partitions left them there. The
   * first instant is the earliest any partition reached; each later one follows the latest by
   * `everyMs`. Checked at every lease renewal.
   */
  eventClock?: boolean;
  /**
   * Lease time, ms: another instance takes over this long after the holder stops renewing. The
   * holder renews every min(interval, lease / 3).
   */
  leaseMs: number;
  /** The wall clock; default Date.now. */
  now?: () => number;
  /**
   * Tells downstream about an epoch (the compacted boundaries topic). Called by the holder for
   * the latest epoch whenever it has not announced it yet (a new holder announces it again);
   * a failure is retried at the next tick.
   */
  announce?: (boundaries: RelativeBoundaries) => Promise<void>;
  instrumentation: Instrumentation;
  logger: Logger;
}

/** A running coordinator. */
export interface BoundaryCoordinator {
  /**
   * One tick now: take or renew the lease and, when held, recompute and publish the next epoch
   * if a boundary or the population moved. Returns the epoch published, or null.
   */
  tick(): Promise<RelativeBoundaries | null>;
  stop(): Promise<void>;
}

function sameBoundaries(a: RelativeBoundaries, b: RelativeBoundaries): boolean {
  if (a.population !== b.population || a.cuts.length !== b.cuts.length) return false;
  return a.cuts.every((cut, i) => {
    const other = b.cuts[i];
    return other !== undefined && cut.metric === other.metric && cut.bps === other.bps && cut.key?.value === other.key?.value && cut.key?.customerId === other.key?.customerId;
  });
}

/**
 * The coordinator of relative boundaries. Every instance of the group runs one; the one holding
 * the lease (a fencing token that grows with every new holder) recomputes the exact boundaries
 * over all partitions' ranked sets ({@link rankedSetBoundaries}) and publishes them as an epoch,
 * fenced by its token, so a deposed coordinator cannot publish and no epoch is written twice.
 * Wall clock: every interval (or at each multiple of `everyMs`), as the next epoch; an unchanged
 * result publishes nothing (no epoch, no re-evaluation). Event clock: at each boundary instant
 * once every partition has reached it (`eventClock`), as the epoch of that instant.
 */
export function startBoundaryCoordinator(options: BoundaryCoordinatorOptions): BoundaryCoordinator {
  const { ranking, policy } = options;
  const clock = options.now ?? Date.now;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let held: boolean | null = null;
  let announced = 0;

  async function announceLatest(latest: RelativeBoundaries | null): Promise<void> {
    if (options.announce === undefined || latest === null || latest.epoch <= announced) return;
    await options.announce(latest);
    announced = latest.epoch;
  }

  // The lease is renewed well within its time, the boundaries recomputed every interval.
  const renewMs = Math.max(1, Math.min(options.intervalMs, Math.floor(options.leaseMs / 3)));
  let lastRecompute = -Infinity;
  /** Wall clock with `everyMs`: the multiple of it last recomputed at. */
  let lastSlot = -Infinity;
  /** What the last barrier report said, so the log line is written when it changes. */
  let lastWaiting = '';

  async function publishEpoch(token: number, boundaries: RelativeBoundaries, byInstant: boolean, started: number): Promise<RelativeBoundaries> {
    await ranking.publish(token, { policyHash: options.policyHash, boundaries }, byInstant);
    await announceLatest(boundaries);
    const seconds = (performance.now() - started) / 1000;
    options.instrumentation.emit('ranking.epoch_published', {
      epoch: boundaries.epoch,
      population: boundaries.population,
      cuts: boundaries.cuts.map((cut) => ({ metric: cut.metric, bps: cut.bps, rank: cut.rank, value: cut.key?.value ?? null })),
      seconds,
    });
    options.logger.info({ epoch: boundaries.epoch, at: new Date(boundaries.at).toISOString(), population: boundaries.population, seconds }, 'published an epoch of relative boundaries');
    return boundaries;
  }

  /** Says which partitions the barrier at `instant` waits on (metric, and a log line when it changes). */
  function reportBarrier(instant: number | null, waiting: number[]): void {
    options.instrumentation.emit('ranking.barrier', { instant, waiting });
    const text = `${instant ?? ''}:${waiting.join(',')}`;
    if (text === lastWaiting) return;
    lastWaiting = text;
    if (waiting.length === 0) return;
    const at = instant === null ? 'the first boundary instant' : `the boundary instant ${new Date(instant).toISOString()}`;
    options.logger.info({ instant, partitions: waiting }, `the event-clock barrier at ${at} waits on partitions ${waiting.join(', ')}: each must reach a record at or after it (a partition without one holds every partition there)`);
  }

  /** Event clock: the epoch of the next boundary instant, once every partition has reached it. */
  async function barrierEpoch(token: number, metas: readonly (PartitionMeta | null)[], started: number): Promise<RelativeBoundaries | null> {
    const every = options.everyMs as number;
    const latest = await ranking.readLatest();
    const ours = latest !== null && latest.policyHash === options.policyHash ? latest.boundaries : null;
    if (ours !== null) await announceLatest(ours);
    const { instant, waits } = nextBarrier(ours?.at ?? null, metas.map((meta) => meta?.barrierInstant ?? null), every);
    const waiting = options.partitions.filter((_, i) => waits[i]);
    reportBarrier(instant, waiting);
    if (instant === null || waiting.length > 0) return null;
    const boundaries = await rankedSetBoundaries(options.store, options.topic, options.partitions, policy, instantEpoch(instant, every), instant);
    return publishEpoch(token, boundaries, true, started);
  }

  async function once(force: boolean): Promise<RelativeBoundaries | null> {
    const lease = await ranking.holdLease(options.instance, options.leaseMs);
    if (lease.held !== held) {
      held = lease.held;
      lastRecompute = -Infinity; // a new holder recomputes at once
      lastSlot = -Infinity;
      options.instrumentation.emit('ranking.lease', { held: lease.held });
      options.logger.info({ held: lease.held, ...(lease.held ? { token: lease.token } : { holder: lease.holder }) }, lease.held ? 'holding the relative-boundary coordinator lease' : 'another instance coordinates the relative boundaries');
    }
    if (!lease.held) return null;
    const started = performance.now();
    const now = clock();
    const eventClock = options.eventClock === true && options.everyMs !== undefined;
    if (!force && !eventClock) {
      if (options.everyMs !== undefined) {
        const slot = Math.floor(now / options.everyMs);
        if (slot === lastSlot) return null;
        lastSlot = slot;
      } else if (started - lastRecompute < options.intervalMs) {
        return null;
      }
    }
    lastRecompute = started;
    // While a partition switches policy its customers are not all ranked under this one yet.
    const metas: (PartitionMeta | null)[] = [];
    for (const partition of options.partitions) {
      const meta = await options.store.readMeta(options.topic, partition);
      if (meta !== null && (meta.policyHash !== options.policyHash || meta.reevaluationCursor !== null)) {
        options.logger.info({ partition }, 'a partition is still switching to this policy; the boundaries are recomputed once every partition is on it');
        return null;
      }
      metas.push(meta);
    }
    if (eventClock) return barrierEpoch(lease.token, metas, started);
    const latest = await ranking.readLatest();
    const epoch = (latest?.boundaries.epoch ?? 0) + 1;
    const boundaries = await rankedSetBoundaries(options.store, options.topic, options.partitions, policy, epoch, now);
    const ours = latest !== null && latest.policyHash === options.policyHash ? latest.boundaries : null;
    // Nobody ranked yet (a fresh deployment): the first epoch waits for the first ranked customer.
    if (ours === null && boundaries.population === 0) return null;
    if (ours !== null && sameBoundaries(ours, boundaries)) {
      await announceLatest(ours);
      return null;
    }
    return publishEpoch(lease.token, boundaries, false, started);
  }

  const queued = (force: boolean): Promise<RelativeBoundaries | null> => {
    const next = running.then(() => once(force));
    running = next.catch(() => undefined);
    return next;
  };

  const loop = (): void => {
    void queued(false)
      .catch((err: unknown) => {
        lastRecompute = -Infinity; // retried at the next renewal
        lastSlot = -Infinity;
        options.logger.warn({ err }, 'relative-boundary recompute failed; retrying');
      })
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, renewMs);
      });
  };
  timer = setTimeout(loop, 0);

  return {
    tick: () => queued(true),
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

/**
 * The records of one epoch on the compacted boundaries topic: one per relative tier, keyed by the
 * tier name, so the topic keeps the latest boundaries of every tier (contract:
 * schemas/tier-boundaries.schema.json).
 */
export function boundaryRecords(policy: CompiledPolicy, boundaries: RelativeBoundaries): OutgoingRecord[] {
  const keyOf = (metric: RankedMetric, bps: number): RankKey | null =>
    bps === 0 ? null : (boundaries.cuts.find((cut) => cut.metric === metric && cut.bps === bps)?.key ?? null);
  return policy.tiers.flatMap((tier) => {
    if (tier.relative === undefined) return [];
    const value = {
      policyVersion: policy.version,
      epoch: boundaries.epoch,
      at: boundaries.at,
      population: boundaries.population,
      tier: tier.name,
      bands: tier.relative.map((band) => ({
        metric: band.metric,
        fromBps: band.fromBps,
        toBps: band.toBps,
        fromRank: cutRank(band.fromBps, boundaries.population) + 1,
        toRank: cutRank(band.toBps, boundaries.population),
        fromBoundary: keyOf(band.metric, band.fromBps),
        toBoundary: keyOf(band.metric, band.toBps),
      })),
    };
    return [{ key: tier.name, value: JSON.stringify(value) }];
  });
}

/** Where an event-clock barrier stands once the input at hand cannot move it: see {@link stuckBarrier}. */
export interface StuckBarrier {
  /** The boundary instant no epoch can be published for; null when some partition reached no instant at all. */
  instant: number | null;
  /** Partitions that have not reached it and have no record left to get there. */
  waitingOn: number[];
  /** Partitions holding records at or after an instant whose epoch cannot come. */
  holding: number[];
}

/**
 * Event clock: whether the boundary barrier is stuck with the input at hand (what `pyramid
 * replay` stops at): every partition the coordinator's next instant waits on has no record left
 * (`drained`), every other partition holds at an instant not published yet, and no BOUNDARY
 * pass is left to run. Null while some partition can still move.
 */
export async function stuckBarrier(options: {
  store: StateStore;
  ranking: RankingStore;
  topic: string;
  partitions: readonly number[];
  policyHash: string;
  everyMs: number;
  drained: ReadonlySet<number>;
}): Promise<StuckBarrier | null> {
  const { everyMs } = options;
  const latest = await options.ranking.readLatest();
  const ours = latest !== null && latest.policyHash === options.policyHash ? latest.boundaries : null;
  const metas = await Promise.all(options.partitions.map((p) => options.store.readMeta(options.topic, p)));
  const reached = metas.map((meta) => meta?.barrierInstant ?? null);
  const { instant, waits } = nextBarrier(ours?.at ?? null, reached, everyMs);
  const waitingOn: number[] = [];
  const holding: number[] = [];
  for (const [i, p] of options.partitions.entries()) {
    const at = reached[i] ?? null;
    if (waits[i] === true) {
      if (!options.drained.has(p)) return null;
      // Drained, but the pass of an epoch it holds at (published) is still to run.
      if (at !== null && (metas[i]?.boundaryEpoch ?? 0) < instantEpoch(at, everyMs) && instantEpoch(at, everyMs) <= (ours?.epoch ?? 0)) return null;
      waitingOn.push(p);
    } else if (!options.drained.has(p)) {
      holding.push(p);
    }
  }
  return waitingOn.length === 0 ? null : { instant, waitingOn, holding };
}
