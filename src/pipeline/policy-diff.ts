import { setTimeout as sleep } from 'node:timers/promises';
import type { ClockMode } from '../engine/apply.js';
import { computeBoundaries, rankedValues, type RankedCustomer, type RelativeBoundaries } from '../engine/boundaries.js';
import { reevaluateUnderPolicy } from '../engine/policy-change.js';
import type { CompiledPolicy } from '../policy/types.js';
import type { StateStore } from '../state/store.js';

/** One cell of the move matrix: customers now in `from` whose tier under the new policy is `to`. */
export interface MoveCell {
  from: string;
  to: string;
  customers: number;
  /** Their rolling monetary at the evaluation instant, minor units of the policy currency. */
  revenueMinor: number;
}

/** What a new policy would do to the stored customers of one deployment (a key prefix). */
export interface MoveMatrix {
  policyName: string;
  policyVersion: string;
  /** Policy versions the partitions' state is in force with now (normally one). */
  currentVersions: string[];
  partitions: number;
  /** Every evaluated customer, in exactly one cell; `from === to` cells are customers that stay. */
  cells: MoveCell[];
  customers: number;
  /** Customers whose tier changes: each gets one POLICY tier-change event when the policy is applied. */
  moving: number;
  movingRevenueMinor: number;
  /**
   * A policy with relative tiers: the boundaries it would start from, computed exactly over the
   * stored customers (each at its partition's clock), as its first epoch would give them.
   */
  boundaries?: RelativeBoundaries;
}

/** Input of {@link policyMoveMatrix}. */
export interface PolicyDiffOptions {
  store: StateStore;
  topic: string;
  partitions: readonly number[];
  policy: CompiledPolicy;
  clock: ClockMode;
  /** HSCAN COUNT hint, and how many customers are read between two pauses. Default 500. */
  pageSize?: number;
  /** Pause after each page, ms, so a diff on a live deployment takes a bounded share of Redis. Default 10. */
  pauseMs?: number;
  /** The wall clock (wall mode); default Date.now. */
  now?: () => number;
}

/**
 * The move matrix of `policy` against the stored state, changing nothing: every stored customer
 * of every partition is re-evaluated under the new policy at the partition's clock (the wall
 * clock, or in event clock the partition's event-time watermark) exactly as the scorers do when
 * the policy is applied ({@link reevaluateUnderPolicy}); a policy with relative tiers against the
 * exact boundaries of every partition's stored customers (one more HSCAN pass first). It reads
 * with HSCAN, page by page with a pause between pages, so it runs next to live scorers; a customer
 * written meanwhile is seen in one of its states, as with any SCAN.
 */
export async function policyMoveMatrix(options: PolicyDiffOptions): Promise<MoveMatrix> {
  const { store, topic, policy } = options;
  const pageSize = options.pageSize ?? 500;
  const pauseMs = options.pauseMs ?? 10;
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new RangeError(`pageSize must be a positive integer, got ${pageSize}`);
  if (!Number.isFinite(pauseMs) || pauseMs < 0) throw new RangeError(`pauseMs must be >= 0, got ${pauseMs}`);
  const wallClock = options.now ?? Date.now;
  const cells = new Map<string, MoveCell>();
  const versions = new Set<string>();
  let customers = 0;
  const clockOf = async (partition: number): Promise<number | null> => {
    const meta = await store.readMeta(topic, partition);
    if (meta === null) return null;
    return options.clock === 'event' ? meta.eventWatermark : wallClock();
  };
  // Relative tiers: first the ranked population over every partition, so each customer is
  // evaluated against the exact boundaries of the whole deployment.
  let boundaries: RelativeBoundaries | null = null;
  if (policy.ranking !== undefined) {
    const ranked: RankedCustomer[] = [];
    let latest = -Infinity;
    for (const partition of options.partitions) {
      const now = await clockOf(partition);
      if (now === null) continue;
      latest = Math.max(latest, now);
      let read = 0;
      for await (const { customerId, state } of store.scanCustomers(topic, partition, { count: pageSize })) {
        const values = rankedValues(policy, state, now);
        if (values !== null) ranked.push({ customerId, ...values });
        if (++read % pageSize === 0 && pauseMs > 0) await sleep(pauseMs);
      }
    }
    boundaries = computeBoundaries(policy, ranked, 0, latest === -Infinity ? wallClock() : latest);
  }
  for (const partition of options.partitions) {
    const meta = await store.readMeta(topic, partition);
    if (meta === null) continue;
    if (meta.policyVersion !== null) versions.add(meta.policyVersion);
    const now = options.clock === 'event' ? meta.eventWatermark : wallClock();
    // In event clock a partition without a watermark has applied no record: no customer to move.
    if (now === null) continue;
    let read = 0;
    for await (const { customerId, state } of store.scanCustomers(topic, partition, { count: pageSize })) {
      if (state.tier === null) continue;
      const outcome = reevaluateUnderPolicy(policy, customerId, state, now, boundaries);
      const key = `${state.tier}\u0000${outcome.state.tier}`;
      let cell = cells.get(key);
      if (cell === undefined) cells.set(key, (cell = { from: state.tier, to: outcome.state.tier ?? state.tier, customers: 0, revenueMinor: 0 }));
      cell.customers += 1;
      cell.revenueMinor += outcome.snapshot.monetary;
      customers += 1;
      if (++read % pageSize === 0 && pauseMs > 0) await sleep(pauseMs);
    }
  }
  const sorted = [...cells.values()].sort((a, b) => (a.from === b.from ? (a.to < b.to ? -1 : 1) : a.from < b.from ? -1 : 1));
  const moves = sorted.filter((cell) => cell.from !== cell.to);
  return {
    policyName: policy.name,
    policyVersion: policy.version,
    currentVersions: [...versions].sort(),
    partitions: options.partitions.length,
    cells: sorted,
    customers,
    moving: moves.reduce((sum, cell) => sum + cell.customers, 0),
    movingRevenueMinor: moves.reduce((sum, cell) => sum + cell.revenueMinor, 0),
    ...(boundaries === null ? {} : { boundaries }),
  };
}
