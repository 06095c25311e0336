import type { CompiledPolicy } from '../policy/types.js';
import type { RelativeBoundaries } from './boundaries.js';
import { bucketExitTime, firstCountedBucket, rollingAggregates, type RfmSnapshot } from './aggregates.js';
import { applyBalanceSnapshot, pruneBalances } from './balances.js';
import { decideTierChange, type ChangeCause, type TierChange } from './change.js';
import { nextDueTime } from './due.js';
import { decideSignals, type Signal } from './signals.js';
import { TimerQueue } from './timer-queue.js';
import type { BalanceRecord, Bucket, CustomerState, DedupeClaim, DueTimer, EngineCounts, EngineRecord } from './types.js';

/** Which clock evaluates a partition: the wall clock (live) or its event-time watermark (replay). */
export type ClockMode = 'event' | 'wall';

/** Read access to stored customer states (a Map will do; the scorer passes its cache). */
export interface CustomerLookup {
  get(customerId: string): CustomerState | undefined;
  has(customerId: string): boolean;
}

/** Where a partition stands before an engine call. */
export interface PartitionPosition {
  /** Last applied Kafka offset of the transactions partition; -1 before the first. */
  lastOffset: number;
  /**
   * Last applied Kafka offset of the co-partitioned balances partition; -1 (or absent) before the
   * first. A second watermark, because the partition's state is fed by two topic-partitions.
   */
  balanceLastOffset?: number;
  /** Max event time applied so far; null before the first applied event. */
  eventWatermark: number | null;
}

/** What an engine call works on. Nothing in it is modified. */
export interface EngineInput {
  policy: CompiledPolicy;
  clock: ClockMode;
  position: PartitionPosition;
  /**
   * The stored state of every customer the call may touch: the records' customers and the
   * customers of `timers`. A customer it does not have is new.
   */
  customers: CustomerLookup;
  /**
   * The partition's timers known to be due at or before {@link EngineInput.timersKnownThrough}
   * (any order; an entry whose customer's `timerAt` differs is outdated and ignored). Event clock
   * and sweeps only: in wall clock a record fires only its own customer's timers.
   */
  timers: readonly DueTimer[];
  /** Every partition timer due at or before this instant is in `timers`. */
  timersKnownThrough: number;
  /**
   * The stored expiry of the dedupe claim of (at least) every transaction id of the records;
   * an id absent from the map is unclaimed.
   */
  claims: ReadonlyMap<string, number>;
  /**
   * An opted-in dedupe horizon, ms: a claim then expires at the earlier of its transaction's
   * bucket leaving the window and `now + horizon`. Null (the default): claims live exactly as
   * long as their transaction counts, so a copy is never counted twice.
   */
  dedupeHorizonMs: number | null;
  /**
   * True while the partition switches to `policy` (a new policy was applied): every stored,
   * classified customer is re-evaluated under it with cause POLICY at its first evaluation in the
   * call, before its timers or records change it, so a customer whose tier differs under the new
   * policy gets its POLICY change before any other. Re-evaluating one already switched finds no
   * change (see reevaluateUnderPolicy), so calls may overlap the background re-evaluation freely.
   */
  reevaluate?: boolean;
  /** While re-evaluating: the policy version switched from, carried by every POLICY change. */
  previousPolicyVersion?: string | null;
  /**
   * The relative boundaries in force, for a policy with relative tiers: every evaluation of the
   * call is against them. Absent or null: no epoch yet, so no relative condition holds.
   */
  boundaries?: RelativeBoundaries | null;
  /** The boundaries of the epoch before `boundaries` (BOUNDARY re-evaluations only). */
  previousBoundaries?: RelativeBoundaries | null;
}

/** What an engine call produced: what the state layer must commit together. */
export interface EngineResult {
  /** New state of every customer the call changed. */
  customers: Map<string, CustomerState>;
  /** New `timerAt` of every customer whose timer moved (null: no timer). */
  timers: Map<string, number | null>;
  /** Claims made by applied records. */
  claims: DedupeClaim[];
  /** Tier changes, in the order they happened. */
  changes: TierChange[];
  /** Signals (policy `signals`), in the order they happened. */
  signals: Signal[];
  counts: EngineCounts;
  position: PartitionPosition;
  /** How many records (a prefix of the input) were handled; see {@link applyRecords}. */
  consumed: number;
  /** The latest evaluation instant of the call (null when none): claims expired by then can go. */
  clock: number | null;
}

/**
 * The working state of one engine call: copies of the customers it touched, the timer queue
 * and the outputs. Every rule of the engine is a method here, so the two entry points below
 * share them.
 */
class EngineRun {
  readonly working = new Map<string, CustomerState>();
  readonly timerChanges = new Map<string, number | null>();
  readonly claimsMade: DedupeClaim[] = [];
  readonly claimed = new Map<string, number>();
  readonly changes: TierChange[] = [];
  readonly signals: Signal[] = [];
  readonly counts: EngineCounts = { applied: 0, duplicate: 0, late: 0, stale: 0, changes: 0, signals: 0, timersFired: 0, claimsShortened: 0 };
  readonly queue = new TimerQueue();
  /** Customers re-evaluated under the policy in this call (see EngineInput.reevaluate). */
  readonly reevaluated = new Set<string>();
  lastOffset: number;
  balanceLastOffset: number;
  eventWatermark: number | null;
  clock: number | null = null;

  /**
   * @param queueTimers whether timers set during the call go into the queue: in event clock and
   *   in sweeps they may fire within the same call; in a wall clock batch only a record's own
   *   customer's timers fire, so queueing them would be wasted work.
   */
  constructor(
    readonly input: EngineInput,
    private readonly queueTimers: boolean,
  ) {
    this.lastOffset = input.position.lastOffset;
    this.balanceLastOffset = input.position.balanceLastOffset ?? -1;
    this.eventWatermark = input.position.eventWatermark;
    for (const timer of input.timers) {
      if (timer.at <= input.timersKnownThrough) this.queue.push(timer.at, timer.customerId);
    }
  }

  /** The customer's working copy, made on first touch (new customers start empty). */
  customer(id: string): CustomerState {
    let c = this.working.get(id);
    if (c === undefined) {
      const stored = this.input.customers.get(id);
      // A literal, not a spread: copying an object with `...` was the engine's largest cost.
      c =
        stored === undefined
          ? emptyCustomer()
          : {
              buckets: stored.buckets.slice(),
              lastPurchaseAt: stored.lastPurchaseAt,
              tier: stored.tier,
              tierSince: stored.tierSince,
              pendingDowngradeSince: stored.pendingDowngradeSince,
              seq: stored.seq,
              timerAt: stored.timerAt,
              signalSeq: stored.signalSeq,
              nearUpgradeAt: stored.nearUpgradeAt,
              ...(stored.balances === undefined ? {} : { balances: stored.balances }),
            };
      this.working.set(id, c);
    }
    return c;
  }

  /** Whether the customer exists (stored, or created by this call). */
  exists(id: string): boolean {
    return this.working.has(id) || this.input.customers.has(id);
  }

  /** The current timer of a customer, as this call left it. */
  timerOf(id: string): number | null {
    return (this.working.get(id) ?? this.input.customers.get(id))?.timerAt ?? null;
  }

  claimOf(transactionId: string): number | undefined {
    return this.claimed.get(transactionId) ?? this.input.claims.get(transactionId);
  }

  noteClock(now: number): void {
    if (this.clock === null || now > this.clock) this.clock = now;
  }

  /** Fire the partition timers due at or before `upTo` (and known), in (due, customerId) order. */
  firePartitionTimers(upTo: number): void {
    const limit = Math.min(upTo, this.input.timersKnownThrough);
    for (;;) {
      const next = this.queue.peek();
      if (next === undefined || next.at > limit) return;
      this.queue.pop();
      // An entry the customer's timer has since moved away from is outdated.
      if (this.timerOf(next.customerId) !== next.at) continue;
      this.fireTimer(next.customerId, this.customer(next.customerId), next.at);
    }
  }

  /** A timer fires at its due time `at`: the evaluation runs at now = at (exact effective times). */
  fireTimer(id: string, c: CustomerState, at: number): void {
    this.counts.timersFired += 1;
    this.noteClock(at);
    this.policyCheck(id, c, at);
    const snapshot = this.snapshot(c, at);
    this.evaluate(id, c, at, 'TIME', null, snapshot, snapshot);
  }

  /** R/F/M at `now`, dropping the buckets that no longer count (the clock only moves forward). */
  snapshot(c: CustomerState, now: number): RfmSnapshot {
    const first = firstCountedBucket(this.input.policy, now);
    let expired = 0;
    while (expired < c.buckets.length && (c.buckets[expired] as Bucket).index < first) expired++;
    if (expired > 0) c.buckets.splice(0, expired);
    if (c.balances !== undefined) c.balances = pruneBalances(c.balances, first);
    return rollingAggregates(this.input.policy, c.buckets, c.lastPurchaseAt, now, c.balances);
  }

  /**
   * While the partition switches policy: re-evaluate a stored, classified customer under the
   * policy with cause POLICY, once per call, at its first evaluation instant `now`.
   */
  policyCheck(id: string, c: CustomerState, now: number): void {
    if (this.input.reevaluate !== true || this.reevaluated.has(id)) return;
    this.reevaluated.add(id);
    if (c.tier === null || !this.input.customers.has(id)) return;
    const snapshot = this.snapshot(c, now);
    this.evaluate(id, c, now, 'POLICY', null, snapshot, snapshot);
  }

  /** Evaluate `c` at `now`, record a change and signals when due, and set its timer. */
  evaluate(id: string, c: CustomerState, now: number, cause: ChangeCause, transactionId: string | null, before: RfmSnapshot, after: RfmSnapshot): void {
    const { policy } = this.input;
    const priorPendingDowngradeSince = c.pendingDowngradeSince;
    const outcome = decideTierChange({
      policy,
      customerId: id,
      state: c,
      before,
      after,
      now,
      cause,
      transactionId,
      previousPolicyVersion: this.input.previousPolicyVersion ?? null,
      boundaries: this.input.boundaries ?? null,
      previousBoundaries: this.input.previousBoundaries ?? null,
    });
    c.tier = outcome.state.tier;
    c.tierSince = outcome.state.tierSince;
    c.pendingDowngradeSince = outcome.state.pendingDowngradeSince;
    c.seq = outcome.state.seq;
    if (outcome.change !== null) {
      this.changes.push(outcome.change);
      this.counts.changes += 1;
    }
    let due = nextDueTime(policy, c, now);
    if (policy.signals !== undefined) {
      const signalled = decideSignals({ policy, customerId: id, state: c, priorPendingDowngradeSince, decision: outcome.decision, snapshot: after, now, cause, transactionId });
      c.signalSeq = signalled.state.signalSeq;
      c.nearUpgradeAt = signalled.state.nearUpgradeAt;
      for (const signal of signalled.signals) this.signals.push(signal);
      this.counts.signals += signalled.signals.length;
      if (signalled.due !== null && (due === null || signalled.due < due)) due = signalled.due;
    }
    this.schedule(id, c, due, now);
  }

  /**
   * Set the customer's timer for due time `due`. A timer still pending after `now` that is
   * earlier than `due` is kept: firing early is harmless (the firing finds no change and
   * reschedules exactly), and most purchases only push the inactivity horizon out, so this saves
   * a due-set write on most events.
   */
  schedule(id: string, c: CustomerState, due: number | null, now: number): void {
    const current = c.timerAt;
    if (due === current) return;
    // No due time at all: the timer goes (it could only fire for nothing; a NEAR_UPGRADE cooldown
    // end is a due time of its own).
    if (current !== null && current > now && due !== null && current < due) return;
    c.timerAt = due;
    this.timerChanges.set(id, due);
    if (due !== null && this.queueTimers) this.queue.push(due, id);
  }

  /**
   * Apply one transaction at evaluation time `now` (in wall clock, after the customer's own due
   * timers fired).
   */
  applyTransaction(record: EngineRecord, now: number): void {
    const { policy } = this.input;
    const id = record.customerId;
    const index = Math.floor(record.eventTime / policy.bucketMs);
    const late = index < firstCountedBucket(policy, now);
    // A refund older than the window touches nothing, so it needs no customer.
    if (late && record.kind === 'refund') {
      this.counts.late += 1;
      if (this.exists(id)) this.policyCheck(id, this.fireOwnTimers(id, now), now);
      return;
    }
    const c = this.fireOwnTimers(id, now);
    this.policyCheck(id, c, now);
    const before = this.snapshot(c, now);
    const cause: ChangeCause = record.kind === 'purchase' ? 'TRANSACTION' : 'REFUND';
    if (late) {
      // Older than the window: nothing to add up, but a purchase still says the customer exists
      // and when they last bought (a bank's history yields its lapsed customers).
      this.counts.late += 1;
      if (c.lastPurchaseAt === null || record.eventTime > c.lastPurchaseAt) c.lastPurchaseAt = record.eventTime;
      this.evaluate(id, c, now, cause, record.transactionId, before, this.snapshot(c, now));
      return;
    }
    this.counts.applied += 1;
    const purchase = record.kind === 'purchase';
    addToBucket(c.buckets, index, purchase ? record.amountMinor : -record.amountMinor, purchase ? 1 : 0, record.profitMinor ?? 0);
    if (purchase && (c.lastPurchaseAt === null || record.eventTime > c.lastPurchaseAt)) c.lastPurchaseAt = record.eventTime;
    this.claim(record.transactionId, bucketExitTime(policy, index), now);
    this.evaluate(id, c, now, cause, record.transactionId, before, this.snapshot(c, now));
  }

  /**
   * Apply one balance snapshot at evaluation time `now` (the account's newer snapshot already
   * ruled out by the caller): the account's balance changes from `eventTime` (asOf) on; a
   * snapshot older than the window moves only the carry into it. Cause BALANCE.
   */
  applyBalance(record: BalanceRecord, now: number): void {
    const id = record.customerId;
    const c = this.fireOwnTimers(id, now);
    this.policyCheck(id, c, now);
    const before = this.snapshot(c, now);
    const first = firstCountedBucket(this.input.policy, now);
    const balances = applyBalanceSnapshot(this.input.policy, c.balances, { accountId: record.accountId, balanceMinor: record.balanceMinor, asOf: record.eventTime }, first);
    if (balances !== null) c.balances = balances;
    if (Math.floor(record.eventTime / this.input.policy.bucketMs) < first) this.counts.late += 1;
    else this.counts.applied += 1;
    this.evaluate(id, c, now, 'BALANCE', null, before, this.snapshot(c, now));
  }

  /** True when the customer's account already has a snapshot at or after the record's asOf. */
  balanceKnown(record: BalanceRecord): boolean {
    const stored = this.working.get(record.customerId) ?? this.input.customers.get(record.customerId);
    const account = stored?.balances?.accounts.find((a) => a.accountId === record.accountId);
    return account !== undefined && account.asOf >= record.eventTime;
  }

  /**
   * The customer's working copy, after firing its own timers due at or before `now` (wall clock:
   * a record's customer is brought up to date before the record applies; in event clock the
   * partition timers already fired).
   */
  fireOwnTimers(id: string, now: number): CustomerState {
    const c = this.customer(id);
    if (this.input.clock === 'wall') {
      while (c.timerAt !== null && c.timerAt <= now) this.fireTimer(id, c, c.timerAt);
    }
    return c;
  }

  /** Claim a transaction id until its bucket leaves the window (or an opted-in shorter horizon). */
  claim(transactionId: string, bucketExit: number, now: number): void {
    let expiresAt = bucketExit;
    const horizon = this.input.dedupeHorizonMs;
    if (horizon !== null && now + horizon < bucketExit) {
      expiresAt = now + horizon;
      this.counts.claimsShortened += 1;
    }
    this.claimed.set(transactionId, expiresAt);
    this.claimsMade.push({ transactionId, expiresAt });
  }

  result(consumed: number): EngineResult {
    return {
      customers: this.working,
      timers: this.timerChanges,
      claims: this.claimsMade,
      changes: this.changes,
      signals: this.signals,
      counts: this.counts,
      position: { lastOffset: this.lastOffset, balanceLastOffset: this.balanceLastOffset, eventWatermark: this.eventWatermark },
      consumed,
      clock: this.clock,
    };
  }
}

function emptyCustomer(): CustomerState {
  return { buckets: [], lastPurchaseAt: null, tier: null, tierSince: null, pendingDowngradeSince: null, seq: 0, timerAt: null, signalSeq: 0, nearUpgradeAt: null };
}

/** Add (monetary, frequency, profit) to bucket `index` of an ascending bucket list, in place. */
function addToBucket(buckets: Bucket[], index: number, monetary: number, frequency: number, profit: number): void {
  let at = buckets.length;
  // Events mostly land in the newest bucket or a new one: search from the end.
  while (at > 0 && (buckets[at - 1] as Bucket).index > index) at--;
  const existing = buckets[at - 1];
  let bucket: Bucket;
  if (existing !== undefined && existing.index === index) {
    bucket = { index, monetary: existing.monetary + monetary, frequency: existing.frequency + frequency };
    const sum = (existing.profit ?? 0) + profit;
    if (sum !== 0) bucket.profit = sum;
    buckets[at - 1] = bucket;
  } else {
    bucket = { index, monetary, frequency };
    if (profit !== 0) bucket.profit = profit;
    buckets.splice(at, 0, bucket);
  }
}

/**
 * Applies one partition's records, in offset order (docs/ARCHITECTURE.md, "Scoring contract").
 * Pure: no I/O, no clock of its own; `now` is the wall clock in wall mode and unused in event mode.
 *
 * Per record: an offset at or below the partition watermark is stale; a transaction id whose
 * claim has not expired is a duplicate (fires no timers, moves no watermark); in event clock every
 * partition timer due at or before the record's event time fires first, and the record is
 * evaluated at max(event watermark, event time); in wall clock the record's own customer's timers
 * due at or before `now` fire first.
 *
 * Event clock needs every timer a record may fire: the call stops before the first record whose
 * event time is past {@link EngineInput.timersKnownThrough}, and `consumed` says how far it got
 * (the caller loads the next timers and calls again with the rest).
 */
export function applyRecords(input: EngineInput, records: readonly (EngineRecord | BalanceRecord)[], now?: number): EngineResult {
  const eventClock = input.clock === 'event';
  const run = new EngineRun(input, eventClock);
  if (!eventClock && now === undefined) throw new TypeError('applyRecords needs the wall clock `now` in wall clock mode');
  for (let i = 0; i < records.length; i++) {
    const record = records[i] as EngineRecord | BalanceRecord;
    if (record.kind === 'balance') {
      if (!applyBalanceRecord(run, record, eventClock, now)) return run.result(i);
      continue;
    }
    if (record.offset <= run.lastOffset) {
      run.counts.stale += 1;
      continue;
    }
    const at = eventClock ? Math.max(run.eventWatermark ?? -Infinity, record.eventTime) : (now as number);
    const claim = run.claimOf(record.transactionId);
    if (claim !== undefined && claim > at) {
      run.lastOffset = record.offset;
      run.counts.duplicate += 1;
      continue;
    }
    if (eventClock && record.eventTime > input.timersKnownThrough) {
      // Fire what is known (all of it is due before this record), so the next call starts past it.
      run.firePartitionTimers(input.timersKnownThrough);
      return run.result(i);
    }
    run.lastOffset = record.offset;
    run.noteClock(at);
    if (eventClock) run.firePartitionTimers(record.eventTime);
    if (run.eventWatermark === null || record.eventTime > run.eventWatermark) run.eventWatermark = record.eventTime;
    run.applyTransaction(record, at);
  }
  return run.result(records.length);
}

/**
 * One balance snapshot, by the same order of checks as a transaction: stale by the balances
 * watermark; a duplicate when its account already has a snapshot at or after its asOf (fires no
 * timers, moves no event-time watermark); in event clock the partition timers due by its asOf
 * fire first. False when the call must stop before it (event clock timers not loaded that far).
 */
function applyBalanceRecord(run: EngineRun, record: BalanceRecord, eventClock: boolean, now: number | undefined): boolean {
  if (record.offset <= run.balanceLastOffset) {
    run.counts.stale += 1;
    return true;
  }
  if (run.balanceKnown(record)) {
    run.balanceLastOffset = record.offset;
    run.counts.duplicate += 1;
    return true;
  }
  if (eventClock && record.eventTime > run.input.timersKnownThrough) {
    run.firePartitionTimers(run.input.timersKnownThrough);
    return false;
  }
  const at = eventClock ? Math.max(run.eventWatermark ?? -Infinity, record.eventTime) : (now as number);
  run.balanceLastOffset = record.offset;
  run.noteClock(at);
  if (eventClock) run.firePartitionTimers(record.eventTime);
  if (run.eventWatermark === null || record.eventTime > run.eventWatermark) run.eventWatermark = record.eventTime;
  run.applyBalance(record, at);
  return true;
}

/**
 * Fires the partition's timers due at or before `upTo` (wall clock sweeps), each evaluated at its
 * own due time, in (due, customerId) order, including timers the firings themselves set at or
 * before `upTo`. Only timers at or before {@link EngineInput.timersKnownThrough} fire.
 */
export function fireTimers(input: EngineInput, upTo: number): EngineResult {
  const run = new EngineRun(input, true);
  run.firePartitionTimers(upTo);
  return run.result(0);
}

/**
 * The background step of a policy switch: re-evaluates stored customers `customerIds` (of the
 * partition, in `input.customers`; ids it lacks are skipped) under `input.policy` at `now` with
 * cause POLICY. In wall clock a customer's own timers due at or before `now` fire first, so a
 * change time alone made is a TIME change, not a POLICY one. Needs `input.reevaluate`.
 */
export function reevaluateCustomers(input: EngineInput, customerIds: readonly string[], now: number): EngineResult {
  if (input.reevaluate !== true) throw new TypeError('reevaluateCustomers needs input.reevaluate');
  const run = new EngineRun(input, false);
  run.noteClock(now);
  for (const id of customerIds) {
    if (!input.customers.has(id)) continue;
    run.policyCheck(id, run.fireOwnTimers(id, now), now);
  }
  return run.result(0);
}

/**
 * The background step of a new epoch of relative boundaries: re-evaluates stored customers
 * `customerIds` (ids `input.customers` lacks are skipped) against `input.boundaries` at `now`
 * with cause BOUNDARY, each change carrying the cut's value in `input.previousBoundaries` and in
 * the new epoch. In wall clock a customer's own timers due at or before `now` fire first (a
 * change time alone made is a TIME change). A customer already evaluated against these
 * boundaries finds no change, so a step may be repeated (after a crash) without a second event.
 */
export function reevaluateAgainstBoundaries(input: EngineInput, customerIds: readonly string[], now: number): EngineResult {
  const run = new EngineRun(input, false);
  run.noteClock(now);
  for (const id of customerIds) {
    if (!input.customers.has(id)) continue;
    const c = run.fireOwnTimers(id, now);
    if (c.tier === null) continue;
    run.policyCheck(id, c, now);
    const snapshot = run.snapshot(c, now);
    run.evaluate(id, c, now, 'BOUNDARY', null, snapshot, snapshot);
  }
  return run.result(0);
}
