import { applyRecords, fireTimers, reevaluateAgainstBoundaries, reevaluateCustomers, type ClockMode, type CustomerLookup, type EngineInput, type EngineResult } from '../engine/apply.js';
import { barrierCut, instantEpoch } from '../engine/barrier.js';
import { policyCuts, rankedValues, type RelativeBoundaries } from '../engine/boundaries.js';
import type { BalanceRecord, CustomerState, EngineCounts, EngineRecord } from '../engine/types.js';
import { isPyramidError, PyramidError } from '../errors.js';
import type { Instrumentation } from '../instrumentation.js';
import type { Logger } from '../logger.js';
import type { CompiledPolicy } from '../policy/types.js';
import { readGroupPolicy } from '../state/group-policy.js';
import { META } from '../state/layout.js';
import { outboxId, type OutboxEntry } from '../state/outbox-codec.js';
import { DEFAULT_TIMER_LIMIT, type PartitionClaim, type StateStore, type TierCounters } from '../state/store.js';
import { PartitionCache, type CacheBudget, type CacheEntry } from './customer-cache.js';
import type { BoundarySource } from './relative-boundaries.js';

/** What an owned partition needs to score. */
export interface OwnedPartitionOptions {
  store: StateStore;
  topic: string;
  partition: number;
  policy: CompiledPolicy;
  /** The policy's content hash (stored with the state, checked by every claim). */
  policyHash: string;
  clock: ClockMode;
  /** Opted-in shorter dedupe horizon (ms); null: claims live as long as their transaction counts. */
  dedupeHorizonMs: number | null;
  budget: CacheBudget;
  /** Timers one load reads at most, in event clock (default the store's {@link DEFAULT_TIMER_LIMIT}). */
  timerLoadLimit?: number;
  logger: Logger;
  instrumentation?: Instrumentation;
  /**
   * True when `policy` is the one stored for the key prefix (`pyramid policy apply`): a partition
   * stored under another policy is claimed anyway and switches to this one at its first commit
   * (the claim re-reads the policy in force first: a partition is only ever switched to it).
   * False: such a partition is refused (the claim names the policy field).
   */
  policyInForce?: boolean;
  /**
   * Policies with relative tiers: the published boundaries. Every evaluation is against the
   * latest epoch, and each new epoch is followed by a BOUNDARY re-evaluation of every customer
   * ({@link OwnedPartition.boundaryStep}). On the event clock (with `ranking.every`) the
   * partition stops at each boundary instant instead, and evaluates against the epoch of the
   * last instant it re-evaluated ({@link OwnedPartition.barrierCut}).
   */
  boundaries?: BoundarySource;
}

/** What one background re-evaluation step of a policy switch did. */
export interface ReevaluationStep {
  /** Customers re-evaluated. */
  customers: number;
  /** POLICY changes (and TIME changes of timers that fell due meanwhile). */
  changes: number;
  /** Signals the step appended to the outbox (they need publishing as much as changes do). */
  signals: number;
  /** False once the partition is fully re-evaluated (or no switch is in progress). */
  more: boolean;
}

const SWITCH_START = '0:0';

/** What a sweep did. */
export interface SweepOutcome {
  timersFired: number;
  changes: number;
  /** Signals the sweep appended to the outbox (a NEAR_UPGRADE reminder, a downgrade starting to wait). */
  signals: number;
  /** True when timers due at or before `now` remain (the call stopped at its limit). */
  more: boolean;
}

/**
 * Why a partition was re-read from Redis: its commit was refused (`lost`: the state is gone,
 * `commit`: a commit was lost, `format`) or a commit's outcome is unknown (`unknown`).
 */
export type ResyncReason = 'lost' | 'commit' | 'format' | 'policy' | 'unknown';

/** A claim retries this often when a concurrent switch moved the stored policy between its read and its claim. */
const CLAIM_ATTEMPTS = 3;

const zeroCounts = (): EngineCounts => ({ applied: 0, duplicate: 0, late: 0, stale: 0, changes: 0, signals: 0, timersFired: 0, claimsShortened: 0 });

function addCounts(into: EngineCounts, add: EngineCounts): void {
  for (const key of Object.keys(into) as (keyof EngineCounts)[]) into[key] += add[key];
}

function storedMonetary(state: CustomerState): number {
  let sum = 0;
  for (const bucket of state.buckets) sum += bucket.monetary;
  return sum;
}

function storedProfit(state: CustomerState): number {
  let sum = 0;
  for (const bucket of state.buckets) sum += bucket.profit ?? 0;
  return sum;
}

/**
 * One input partition this scorer owns: the customers it caches, the fence of its claim and where
 * it stands, and the one path every state change takes: load what the cache lacks (one round
 * trip), run the engine, commit the result fenced. The batch handler and the sweeper both go
 * through it (one at a time: the caller serialises them per partition).
 *
 * Commits are pipelined: `apply` sends its commit and returns without waiting for the reply, so
 * the next chunk is loaded and scored while Redis writes this one. Each commit requires the commit
 * number the previous one will leave, so after a failed commit every later one is refused too;
 * the caller then awaits `settled`, sees the failure and calls `resync`, which drops the cache
 * and reads the partition back from Redis (the consumer then seeks to `nextOffset`).
 */
export class OwnedPartition {
  readonly topic: string;
  readonly partition: number;
  private readonly cache: PartitionCache;
  private owner = '';
  /** The commit number the next commit requires (the last one sent leaves it). */
  private commitNumber = 0;
  private lastOffset: number | null = null;
  /** Last applied offset of the co-partitioned balances partition (the second watermark). */
  private balanceLastOffset: number | null = null;
  private eventWatermark: number | null = null;
  private outboxSeq = 0;
  private counters: TierCounters = new Map();
  /** Set once a commit failed: nothing is applied until `resync`. */
  private failure: unknown;
  private inFlight: Promise<void>[] = [];
  /** True once another owner has claimed the partition: this instance is a zombie for it. */
  private fenced = false;
  private policy: CompiledPolicy;
  private policyHash: string;
  /** The policy the stored state was computed under (meta `pv`/`ph`), as this owner read or wrote it: every commit is fenced by it. */
  private storedPolicy: { version: string | null; hash: string } = { version: null, hash: '' };
  /** The version the partition's stored state is on, while the switch to `policy` is not committed yet. */
  private switchFrom: string | null = null;
  /** The version the partition last switched from (meta `pp`): POLICY changes carry it. */
  private previousPolicyVersion: string | null = null;
  /** `<sub-hash>:<HSCAN cursor>` of the background re-evaluation; null when none is in progress. */
  private cursor: string | null = null;
  /** The last epoch of relative boundaries whose BOUNDARY re-evaluation is committed (0: none). */
  private boundaryEpoch = 0;
  /** `<epoch>:<sub-hash>:<HSCAN cursor>` of a BOUNDARY re-evaluation in progress; null when none. */
  private boundaryCursor: string | null = null;
  /** Event clock with `ranking.every`: the latest boundary instant reached (meta `bt`); null when none. */
  private barrierInstant: number | null = null;
  /** Event clock with `ranking.every`: the boundaries of epoch `boundaryEpoch`, the ones records are evaluated against. */
  private inForce: RelativeBoundaries | null = null;

  constructor(private readonly options: OwnedPartitionOptions) {
    this.topic = options.topic;
    this.partition = options.partition;
    this.cache = new PartitionCache(options.budget);
    this.policy = options.policy;
    this.policyHash = options.policyHash;
  }

  /**
   * Claims the partition (fencing any earlier owner) and starts from what Redis holds.
   *
   * @throws PyramidError POLICY_INVALID (retriable) when the partition's state is on another
   *   policy and this scorer's policy is no longer the one in force (another was applied since it
   *   last looked): switching to it would go back; the caller picks up the policy in force and
   *   claims again.
   */
  async claim(): Promise<void> {
    const { store } = this.options;
    const mine = { version: this.policy.version, hash: this.policyHash };
    if (this.options.policyInForce !== true) {
      this.adopt(await store.claim(this.topic, this.partition, mine));
      await this.loadInForce();
      return;
    }
    // The partition may still be on the policy in force before: claim it as it is stored, and
    // switch at the first commit. An owner switching it between the read and the claim makes the
    // claim refuse the policy field: read again.
    for (let attempt = 1; ; attempt++) {
      const meta = await store.readMeta(this.topic, this.partition);
      const stored = meta?.policyVersion != null && meta.policyHash != null ? { version: meta.policyVersion, hash: meta.policyHash } : mine;
      let claim: PartitionClaim;
      try {
        claim = await store.claim(this.topic, this.partition, stored);
      } catch (err) {
        const field = isPyramidError(err, 'STATE_LAYOUT_MISMATCH') ? err.details?.field : undefined;
        if (attempt < CLAIM_ATTEMPTS && (field === META.policyVersion || field === META.policyHash)) continue;
        throw err;
      }
      if (claim.policyHash !== null && claim.policyHash !== this.policyHash) {
        const inForce = await readGroupPolicy(store.redis, store.prefix);
        if (inForce !== null && inForce.hash !== this.policyHash) {
          throw new PyramidError(
            'POLICY_INVALID',
            `partition ${this.partition} of ${this.topic} is on policy ${claim.policyVersion ?? '?'}; the policy in force is ${inForce.version}, not this scorer's ${this.policy.version}: picking it up first`,
            { retriable: true, details: { topic: this.topic, partition: this.partition, inForce: inForce.version, mine: this.policy.version } },
          );
        }
      }
      this.adopt(claim);
      await this.loadInForce();
      return;
    }
  }

  /**
   * Scores with `policy` (the one just applied for the key prefix) from now on: the partition
   * switches at its next commit, which stores the new policy in the meta, fenced by the policy the
   * state is on, and starts the background re-evaluation of every customer. The caller serialises
   * it with the partition's other work. Switching back to the stored policy before that commit
   * cancels the switch.
   */
  switchPolicy(policy: CompiledPolicy, hash: string): void {
    if (hash === this.policyHash) return;
    this.policy = policy;
    this.policyHash = hash;
    this.switchFrom = this.storedPolicy.version !== null && this.storedPolicy.hash !== hash ? this.storedPolicy.version : null;
  }

  /** The version of the last switch's old policy: the one POLICY events of this partition carry as previous. */
  get switchedFromVersion(): string | null {
    return this.switchFrom ?? this.previousPolicyVersion;
  }

  /** True while a policy switch is pending or its background re-evaluation is not done. */
  get reevaluating(): boolean {
    return this.switchFrom !== null || this.cursor !== null;
  }

  /** Where the background re-evaluation stands: customer sub-hashes done of all (all once none is in progress). */
  get reevaluationProgress(): { done: number; of: number } {
    const of = this.options.store.customerShards;
    if (!this.reevaluating) return { done: of, of };
    return { done: Number((this.cursor ?? SWITCH_START).split(':')[0]), of };
  }

  /** What the status page and metrics show of the partition's policy (the `policy.reevaluation` event). */
  get policyStatus(): { done: number; of: number; policyVersion: string; switchingFrom: string | null } {
    return { ...this.reevaluationProgress, policyVersion: this.policy.version, switchingFrom: this.reevaluating ? this.switchedFromVersion : null };
  }

  /**
   * One step of the background re-evaluation of a policy switch: the next HSCAN page (about
   * `count` customers) of the partition re-evaluated under the new policy at the partition's
   * clock (`now` in wall clock, the event-time watermark in event clock), committed together
   * with the moved cursor.
   */
  async reevaluateStep(now: number, count: number): Promise<ReevaluationStep> {
    this.assertUsable();
    if (!this.reevaluating) return { customers: 0, changes: 0, signals: 0, more: false };
    const at = this.options.clock === 'event' ? this.eventWatermark : now;
    const [shardText, hscanCursor] = (this.cursor ?? SWITCH_START).split(':') as [string, string];
    const shard = Number(shardText);
    const page = await this.options.store.scanCustomerIds(this.topic, this.partition, shard, hscanCursor, count);
    const input = await this.engineInput(page.customerIds, [], undefined);
    this.assertUsable();
    // In event clock a partition that applied no record has no customer to re-evaluate.
    const result = at === null ? reevaluateCustomers(input, [], 0) : reevaluateCustomers(input, page.customerIds, at);
    const nextShard = page.next === '0' ? shard + 1 : shard;
    const next = nextShard >= this.options.store.customerShards ? '' : `${nextShard}:${page.next}`;
    await this.commit(input, result, next);
    this.assertUsable();
    return { customers: page.customerIds.length, changes: result.counts.changes, signals: result.counts.signals, more: next !== '' };
  }

  /**
   * True when a newer epoch of relative boundaries than the last re-evaluated one is published;
   * on the event clock, when the epoch of the instant the partition holds at is.
   */
  get boundaryPassDue(): boolean {
    const current = this.options.boundaries?.current() ?? null;
    if (current === null) return false;
    const every = this.barrierEvery;
    if (every !== undefined) return this.holding && current.epoch >= instantEpoch(this.barrierInstant as number, every);
    return this.boundaryCursor !== null || current.epoch > this.boundaryEpoch;
  }

  /** The event clock's boundary instants are on: `ranking.every` of a relative policy, in ms. */
  private get barrierEvery(): number | undefined {
    return this.options.clock === 'event' && this.options.boundaries !== undefined ? this.policy.ranking?.everyMs : undefined;
  }

  /**
   * Event clock with `ranking.every`: true while the partition stands at a boundary instant whose
   * epoch it has not re-evaluated yet. It applies nothing then: the caller holds its records
   * (and offsets) until {@link boundaryStep} has re-evaluated that epoch.
   */
  get holding(): boolean {
    const every = this.barrierEvery;
    return every !== undefined && this.barrierInstant !== null && this.boundaryEpoch < instantEpoch(this.barrierInstant, every);
  }

  /** Event clock with `ranking.every`: the latest boundary instant reached (epoch ms); null when none. */
  get reachedInstant(): number | null {
    return this.barrierInstant;
  }

  /**
   * Event clock with `ranking.every`: where `records` (offset order) must stop, because the
   * record at `index` is at or after the next boundary instant `instant` (or, while holding, is
   * the first one not applied yet); null when all of them may be applied (or the barrier is off).
   * The caller applies the records before `index`, then {@link reachBarrier}(instant).
   */
  barrierCut(records: readonly { offset: number; eventTime: number }[]): { index: number; instant: number } | null {
    const every = this.barrierEvery;
    if (every === undefined) return null;
    const lastOffset = this.lastOffset ?? -1;
    if (this.holding) {
      const index = records.findIndex((r) => r.offset > lastOffset);
      return index < 0 ? null : { index, instant: this.barrierInstant as number };
    }
    return barrierCut(records, lastOffset, this.barrierInstant === null ? null : this.barrierInstant + every, every);
  }

  /**
   * Event clock with `ranking.every`: the partition reaches boundary instant `instant` (its
   * records before it are applied): its timers due at or before it fire (in commits of at most
   * about the timer load limit), and the last commit stores the instant as reached, with the
   * event-time watermark moved up to it. From then on the partition is {@link holding}.
   */
  async reachBarrier(instant: number): Promise<void> {
    const limit = this.options.timerLoadLimit ?? DEFAULT_TIMER_LIMIT;
    for (;;) {
      this.assertUsable();
      const input = await this.engineInput([], [], instant, limit);
      this.assertUsable();
      const result = fireTimers(input, instant);
      if (input.timersKnownThrough < instant) {
        await this.commit(input, result);
        continue;
      }
      result.position.eventWatermark = Math.max(result.position.eventWatermark ?? instant, instant);
      this.barrierInstant = instant;
      await this.commit(input, result, undefined, new Map([[META.barrierInstant, String(instant)]]));
      this.assertUsable();
      return;
    }
  }

  /**
   * The epoch whose BOUNDARY re-evaluation is committed, and the latest known (for progress; on
   * the event clock one more than the first while the epoch of the instant held at is published).
   */
  get boundaryProgress(): { applied: number; latest: number } {
    // Event clock: the one epoch the partition waits to re-evaluate is the one of its instant.
    if (this.barrierEvery !== undefined) return { applied: this.boundaryEpoch, latest: this.boundaryEpoch + (this.boundaryPassDue ? 1 : 0) };
    return { applied: this.boundaryEpoch, latest: this.options.boundaries?.current()?.epoch ?? 0 };
  }

  /**
   * One step of the BOUNDARY re-evaluation of the latest epoch: the next HSCAN page (about
   * `count` customers) re-evaluated against it at the partition's clock, each change carrying the
   * cut's value in the last fully re-evaluated epoch and in this one, committed together with the
   * moved cursor (and, on the last page, the epoch as re-evaluated). A newer epoch arriving
   * mid-way restarts the pass against it; customers already moved find no second change.
   */
  async boundaryStep(now: number, count: number): Promise<ReevaluationStep> {
    this.assertUsable();
    const source = this.options.boundaries;
    if (source === undefined || !this.boundaryPassDue) return { customers: 0, changes: 0, signals: 0, more: false };
    // Event clock: the epoch of the instant held at, re-evaluated at that instant.
    const every = this.barrierEvery;
    const instant = this.barrierInstant;
    const target = every === undefined || instant === null ? source.current() : await source.epoch(instantEpoch(instant, every));
    if (target === null) return { customers: 0, changes: 0, signals: 0, more: false };
    const [epochText, shardText = '0', hscanCursor = '0'] = (this.boundaryCursor ?? '').split(':');
    const fresh = this.boundaryCursor === null || Number(epochText) !== target.epoch;
    const shard = fresh ? 0 : Number(shardText);
    const page = await this.options.store.scanCustomerIds(this.topic, this.partition, shard, fresh ? '0' : hscanCursor, count);
    const previousBoundaries = every === undefined ? await source.epoch(this.boundaryEpoch) : this.inForce;
    const input = { ...(await this.engineInput(page.customerIds, [], undefined)), boundaries: target, previousBoundaries };
    this.assertUsable();
    const at = every !== undefined ? instant : this.options.clock === 'event' ? this.eventWatermark : now;
    const result = at === null ? reevaluateAgainstBoundaries(input, [], 0) : reevaluateAgainstBoundaries(input, page.customerIds, at);
    const nextShard = page.next === '0' ? shard + 1 : shard;
    const done = nextShard >= this.options.store.customerShards;
    const meta = new Map<string, string>([[META.boundaryCursor, done ? '' : `${target.epoch}:${nextShard}:${page.next}`]]);
    if (done) meta.set(META.boundaryEpoch, String(target.epoch));
    await this.commit(input, result, undefined, meta);
    this.boundaryCursor = done ? null : (meta.get(META.boundaryCursor) as string);
    if (done) {
      this.boundaryEpoch = target.epoch;
      this.inForce = target;
    }
    this.assertUsable();
    return { customers: page.customerIds.length, changes: result.counts.changes, signals: result.counts.signals, more: !done };
  }

  /**
   * The next offset to apply: past the stored watermark; undefined while the partition has applied
   * nothing (the scorer then starts it at the log start).
   */
  get nextOffset(): bigint | undefined {
    return this.lastOffset === null ? undefined : BigInt(this.lastOffset) + 1n;
  }

  /**
   * The next offset to apply of the co-partitioned balances partition (its own watermark, moved
   * by the same fenced commits); undefined while no balance applied.
   */
  get nextBalanceOffset(): bigint | undefined {
    return this.balanceLastOffset === null ? undefined : BigInt(this.balanceLastOffset) + 1n;
  }

  /** False once another owner claimed the partition (a commit was refused for its owner token). */
  get owned(): boolean {
    return !this.fenced;
  }

  /**
   * Applies records of this partition (in offset order): records at or below the watermark are
   * skipped, the rest loaded, scored and their commit sent (not awaited: see {@link settled}).
   * Wall clock evaluates at `now`. Records of the co-partitioned balances partition may be among
   * them (in their own offset order): their watermark is the second one, committed alike.
   *
   * @throws the failure of an earlier commit until `resync` (nothing is applied on top of state
   *   that may not be in Redis).
   */
  async apply(records: readonly (EngineRecord | BalanceRecord)[], now?: number): Promise<EngineCounts> {
    this.assertUsable();
    const cut = this.barrierCut(records);
    if (cut !== null) {
      // The caller cuts the records at the instant (barrierCut): applying past it would break the replay's determinism.
      throw new PyramidError('STATE_SCRIPT_FAILED', `partition ${this.partition} of ${this.topic}: offset ${records[cut.index]?.offset ?? '?'} is at or after the boundary instant ${new Date(cut.instant).toISOString()}, whose epoch the partition has not re-evaluated`);
    }
    const counts = zeroCounts();
    let rest = records;
    for (;;) {
      const fresh = rest.filter((r) => r.offset > ((r.kind === 'balance' ? this.balanceLastOffset : this.lastOffset) ?? -1));
      if (fresh.length === 0) {
        counts.stale += rest.length;
        break;
      }
      const timersThrough = this.options.clock === 'event' ? Math.max(...fresh.map((r) => r.eventTime)) : undefined;
      const input = await this.engineInput(
        fresh.map((r) => r.customerId),
        fresh.flatMap((r) => (r.kind === 'balance' ? [] : [r.transactionId])),
        timersThrough,
        this.options.timerLoadLimit ?? DEFAULT_TIMER_LIMIT,
      );
      this.assertUsable();
      const result = applyRecords(input, rest, now);
      addCounts(counts, result.counts);
      void this.commit(input, result);
      if (result.consumed >= rest.length) break;
      if (result.consumed === 0 && result.counts.timersFired === 0) {
        // Cannot happen while the cache and Redis agree; looping would never end.
        throw new PyramidError('STATE_SCRIPT_FAILED', `partition ${this.partition} of ${this.topic}: the loaded timers made no progress`);
      }
      // Event clock: the records from here on need timers beyond those loaded.
      rest = rest.slice(result.consumed);
    }
    return counts;
  }

  /** Fires the timers due at or before `now` (wall clock), at most about `limit` of them. */
  async sweep(now: number, limit: number): Promise<SweepOutcome> {
    this.assertUsable();
    const input = await this.engineInput([], [], now, limit);
    this.assertUsable();
    const result = fireTimers(input, now);
    const more = input.timersKnownThrough < now;
    if (result.counts.timersFired === 0 && result.customers.size === 0) return { timersFired: 0, changes: 0, signals: 0, more };
    await this.commit(input, result);
    this.assertUsable();
    return { timersFired: result.counts.timersFired, changes: result.counts.changes, signals: result.counts.signals, more };
  }

  /**
   * Settles when every commit sent so far is acknowledged.
   *
   * @throws PyramidError STATE_FENCED when one was refused or failed (see {@link resync}).
   */
  async settled(): Promise<void> {
    const pending = this.inFlight;
    this.inFlight = [];
    await Promise.all(pending);
    this.assertUsable();
  }

  /**
   * After a failed commit: waits for the commits in flight, drops the cache and re-reads the
   * partition from Redis. A partition whose state is gone is claimed afresh (it then resumes
   * from Kafka's start); one claimed by another owner is given up (`owned` turns false).
   * Returns why it resynced.
   */
  async resync(): Promise<ResyncReason | 'owner'> {
    await Promise.all(this.inFlight);
    this.inFlight = [];
    const failure = this.failure;
    const refusal = isPyramidError(failure, 'STATE_FENCED') ? (failure.details?.reason as ResyncReason | 'owner' | undefined) : undefined;
    const reason = refusal ?? 'unknown';
    this.cache.clear();
    const meta = await this.options.store.readMeta(this.topic, this.partition);
    if (meta === null) {
      await this.claim();
      this.failure = undefined;
      return reason === 'unknown' ? 'lost' : reason;
    }
    if (meta.owner !== this.owner) {
      this.fenced = true;
      return 'owner';
    }
    this.adopt({ ...meta, owner: this.owner });
    await this.loadInForce();
    this.failure = undefined;
    return reason;
  }

  /** Drop everything cached (the partition is no longer owned). */
  release(): void {
    this.cache.clear();
    this.fenced = true;
  }

  /**
   * Nothing is applied on top of state that may not be in Redis: after a failed commit every call
   * throws STATE_FENCED (never retriable: retrying cannot help, only {@link resync} can).
   */
  private assertUsable(): void {
    if (this.fenced) throw new PyramidError('STATE_FENCED', `partition ${this.partition} of ${this.topic} is owned by another instance now`, { details: { reason: 'owner' } });
    const failure = this.failure;
    if (failure === undefined) return;
    if (isPyramidError(failure, 'STATE_FENCED')) throw failure;
    throw new PyramidError('STATE_FENCED', `a commit to partition ${this.partition} of ${this.topic} failed; whether it was applied is unknown`, { cause: failure, details: { reason: 'unknown' } });
  }

  private adopt(claim: PartitionClaim): void {
    this.owner = claim.owner;
    this.commitNumber = claim.commit;
    this.lastOffset = claim.lastOffset;
    this.balanceLastOffset = claim.balanceLastOffset ?? null;
    this.eventWatermark = claim.eventWatermark;
    this.outboxSeq = claim.outboxSeq;
    this.counters = claim.counters;
    this.cursor = claim.reevaluationCursor;
    this.storedPolicy = { version: claim.policyVersion, hash: claim.policyHash ?? '' };
    this.previousPolicyVersion = claim.previousPolicyVersion;
    this.boundaryEpoch = claim.boundaryEpoch;
    this.boundaryCursor = claim.boundaryCursor;
    this.barrierInstant = claim.barrierInstant ?? null;
    this.inForce = null;
    this.switchFrom = claim.policyVersion !== null && (claim.policyVersion !== this.policy.version || claim.policyHash !== this.policyHash) ? claim.policyVersion : null;
    this.cache.clear();
  }

  /** Event clock with `ranking.every`: reads the boundaries of the epoch last re-evaluated (after a claim or resync). */
  private async loadInForce(): Promise<void> {
    const source = this.options.boundaries;
    this.inForce = this.barrierEvery === undefined || source === undefined || this.boundaryEpoch === 0 ? null : await source.epoch(this.boundaryEpoch);
  }

  /**
   * The engine's input: the cached customers, plus (one round trip) what the cache lacks, the
   * claims of `transactionIds` and, for event clock and sweeps, the timers due by `timersThrough`.
   */
  private async engineInput(customerIds: string[], transactionIds: string[], timersThrough: number | undefined, timerLimit?: number): Promise<EngineInput> {
    const { store, clock, dedupeHorizonMs } = this.options;
    const policy = this.policy;
    const customers = new Map<string, CustomerState>();
    const missing = new Set<string>();
    for (const id of customerIds) {
      const cached = this.cache.get(id);
      if (cached !== undefined) customers.set(id, cached);
      else missing.add(id);
    }
    const loaded = await store.load(this.topic, this.partition, {
      customers: [...missing],
      transactionIds,
      ...(timersThrough === undefined ? {} : { timersThrough }),
      ...(timerLimit === undefined ? {} : { timerLimit }),
    });
    this.remember(loaded.customers, customers);
    // Customers of due timers that neither the cache nor the first read had: one more read.
    const timerMisses = loaded.timers.map((t) => t.customerId).filter((id) => !customers.has(id) && !missing.has(id) && !this.cache.has(id));
    for (const timer of loaded.timers) {
      const cached = this.cache.get(timer.customerId);
      if (cached !== undefined) customers.set(timer.customerId, cached);
    }
    if (timerMisses.length > 0) this.remember((await store.load(this.topic, this.partition, { customers: timerMisses })).customers, customers);
    return {
      policy,
      clock,
      position: { lastOffset: this.lastOffset ?? -1, balanceLastOffset: this.balanceLastOffset ?? -1, eventWatermark: this.eventWatermark },
      customers,
      timers: loaded.timers,
      timersKnownThrough: timersThrough === undefined ? -Infinity : loaded.timersKnownThrough,
      claims: loaded.claims,
      dedupeHorizonMs,
      reevaluate: this.reevaluating,
      previousPolicyVersion: this.switchedFromVersion,
      boundaries: this.barrierEvery === undefined ? (this.options.boundaries?.current() ?? null) : this.inForce,
    };
  }

  private remember(loaded: Map<string, CustomerState>, into: Map<string, CustomerState>): void {
    for (const [id, state] of loaded) {
      this.cache.putCommitted(id, state);
      into.set(id, state);
    }
  }

  /**
   * Sends the commit of one engine result (fenced) and tracks its acknowledgement; the returned
   * promise never rejects (a failure is kept for {@link settled} and blocks further applies).
   */
  private commit(input: EngineInput, result: EngineResult, cursor?: string, extraMeta?: Map<string, string>): Promise<void> {
    const commit = this.commitNumber;
    const meta = new Map<string, string>(extraMeta);
    // Fenced by the policy the stored state is on: a switching commit names the old one here.
    const fence = { owner: this.owner, commit, policyHash: this.storedPolicy.hash };
    if (input.policy !== this.policy) {
      // Scored before a switch the caller asked for since: it must not land on the new policy's state.
      throw new PyramidError('STATE_SCRIPT_FAILED', `partition ${this.partition} of ${this.topic}: a chunk scored under policy ${input.policy.version} reached the commit after the switch to ${this.policy.version}`);
    }
    if (this.switchFrom !== null) {
      // The switch point: the first commit scored under the new policy stores it.
      meta.set(META.policyVersion, this.policy.version).set(META.policyHash, this.policyHash).set(META.previousPolicyVersion, this.switchFrom);
      meta.set(META.reevaluationCursor, SWITCH_START);
      this.options.logger.info({ topic: this.topic, partition: this.partition, from: this.switchFrom, to: this.policy.version }, 'policy switched; re-evaluating every customer in the background');
      this.previousPolicyVersion = this.switchFrom;
      this.storedPolicy = { version: this.policy.version, hash: this.policyHash };
      this.switchFrom = null;
      this.cursor = SWITCH_START;
    }
    if (cursor !== undefined && input.reevaluate === true) {
      meta.set(META.reevaluationCursor, cursor);
      this.cursor = cursor === '' ? null : cursor;
    }
    const changedCounters = this.moveCounters(input.customers, result.customers);
    // Relative tiers: the ranked sets move with the customers, valued at the call's clock.
    let ranked: Map<string, { monetary: number; frequency: number | null } | null> | undefined;
    if (this.policy.ranking !== undefined && result.clock !== null) {
      ranked = new Map();
      // The frequency set is kept only for a policy that ranks by frequency: each ranked-set write
      // cost Redis ~8 µs per customer in bench:relative.
      const byFrequency = policyCuts(this.policy).some((cut) => cut.metric === 'frequency');
      for (const [id, state] of result.customers) {
        const values = rankedValues(this.policy, state, result.clock);
        ranked.set(id, values === null || byFrequency ? values : { monetary: values.monetary, frequency: null });
      }
    }
    const written: CacheEntry[] = [];
    for (const [id, state] of result.customers) written.push(this.cache.putPending(id, state, commit));
    // Changes, then signals: both kinds take the partition's one outbox sequence.
    const outbox: OutboxEntry[] = result.changes.map((change): OutboxEntry => ({ id: outboxId(++this.outboxSeq), change }));
    for (const signal of result.signals) outbox.push({ id: outboxId(++this.outboxSeq), signal });
    this.lastOffset = result.position.lastOffset < 0 ? null : result.position.lastOffset;
    const balanceLastOffset = result.position.balanceLastOffset ?? -1;
    this.balanceLastOffset = balanceLastOffset < 0 ? null : balanceLastOffset;
    this.eventWatermark = result.position.eventWatermark;
    this.commitNumber = commit + 1;
    const sent = this.options.store
      .commit(
        this.topic,
        this.partition,
        fence,
        {
          lastOffset: this.lastOffset,
          balanceLastOffset: this.balanceLastOffset,
          eventWatermark: this.eventWatermark,
          outboxSeq: this.outboxSeq,
          counters: changedCounters,
          customers: result.customers,
          timers: result.timers,
          claims: result.claims,
          outbox,
          pruneClaimsThrough: result.clock,
          meta,
          ...(ranked === undefined ? {} : { ranked }),
        },
      )
      .then(
        () => this.cache.committed(commit, written),
        (err: unknown) => {
          this.failure ??= err;
        },
      );
    if (result.counts.claimsShortened > 0) {
      this.options.instrumentation?.emit('dedupe.claims_shortened', { topic: this.topic, partition: this.partition, count: result.counts.claimsShortened });
    }
    this.inFlight.push(sent);
    return sent;
  }

  /** Moves the per-tier counters (customers, stored monetary and profit) by the customers' old and new states; returns the tiers that moved. */
  private moveCounters(previous: CustomerLookup, customers: Map<string, CustomerState>): TierCounters {
    const changed: TierCounters = new Map();
    const move = (tier: string | null, customers: number, revenueMinor: number, profitMinor: number): void => {
      if (tier === null || (customers === 0 && revenueMinor === 0 && profitMinor === 0)) return;
      const entry = this.counters.get(tier) ?? { customers: 0, revenueMinor: 0 };
      entry.customers += customers;
      entry.revenueMinor += revenueMinor;
      // Written only once some profit moved, so a store without margins keeps its meta as it was.
      if (profitMinor !== 0 || entry.profitMinor !== undefined) entry.profitMinor = (entry.profitMinor ?? 0) + profitMinor;
      this.counters.set(tier, entry);
      changed.set(tier, entry);
    };
    for (const [id, after] of customers) {
      const before = previous.get(id);
      const beforeMonetary = before === undefined ? 0 : storedMonetary(before);
      const afterMonetary = storedMonetary(after);
      const beforeProfit = before === undefined ? 0 : storedProfit(before);
      const afterProfit = storedProfit(after);
      if (before?.tier === after.tier) {
        move(after.tier, 0, afterMonetary - beforeMonetary, afterProfit - beforeProfit);
      } else {
        move(before?.tier ?? null, -1, -beforeMonetary, -beforeProfit);
        move(after.tier, 1, afterMonetary, afterProfit);
      }
    }
    return new Map([...changed].map(([tier, entry]) => [tier, { ...entry }]));
  }
}
