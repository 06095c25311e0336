import type { CompiledPolicy, Condition } from '../policy/types.js';
import { relaxedBound } from './relax.js';
import type { AccountBalance, BalanceBucket, BalanceState } from './types.js';

/**
 * Average daily balance (docs/ARCHITECTURE.md, "Scoring contract", balances): the time-weighted
 * average, over the window, of the sum of a customer's accounts' balances, in exact integers.
 *
 * The balance sum is a step function of time: account a holds the balance of its latest snapshot
 * with asOf <= t (0 before its first). I_j is the integral of that sum over [j·B, (j+1)·B) in
 * balance-milliseconds (a bigint: a 10^8 minor-unit balance over one day is 8.64·10^15, at the
 * edge of a double), the sum at the bucket's last snapshot holding to the bucket's end. Per bucket
 * with a snapshot the state keeps endSum_j, that sum, and offsetWeight_j = Σ delta_k × (t_k − j·B)
 * over its snapshots (delta_k the change snapshot k made to the sum at t_k), so that
 * I_j = endSum_j × B − offsetWeight_j (a later snapshot in an earlier bucket moves endSum of the
 * buckets after it, never their offsetWeight). A bucket without a snapshot has
 * I_j = (sum in effect at its start) × B, the endSum of the stored bucket before it (or `baseSum`,
 * the carry of buckets dropped from the window). So the state is one entry per account plus at
 * most one per bucket of the window.
 *
 * ADB at `now` = floor(Σ_{j = cur−W+1}^{cur} I_j / windowMs) with cur = floor(now / B) and W the
 * window in buckets: the current bucket counts whole, at the balance carried to its end (the same
 * one-bucket sawtooth as monetary). Floor division rounds towards −∞ (balances may be negative).
 */

const EMPTY_BALANCES: BalanceState = { baseSum: 0, accounts: [], buckets: [] };

/** Floor division of bigints (BigInt `/` truncates towards zero). */
export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/**
 * Drops the balance buckets older than `firstCounted`, carrying the last dropped one's endSum into
 * `baseSum`. Returns the same object when nothing is dropped.
 */
export function pruneBalances(state: BalanceState, firstCounted: number): BalanceState {
  let expired = 0;
  while (expired < state.buckets.length && (state.buckets[expired] as BalanceBucket).index < firstCounted) expired++;
  if (expired === 0) return state;
  return { baseSum: (state.buckets[expired - 1] as BalanceBucket).endSum, accounts: state.accounts, buckets: state.buckets.slice(expired) };
}

/** One balance snapshot as the engine applies it. */
export interface BalanceSnapshotInput {
  accountId: string;
  /** Signed minor units. */
  balanceMinor: number;
  /** Epoch ms: the instant the balance holds from. */
  asOf: number;
}

/**
 * Applies a snapshot to a customer's balances (pruned to `firstCounted` first). Null when the
 * account already has a snapshot at or after `asOf`: per account, snapshots apply in asOf order,
 * so a copy (or an older one arriving late) changes nothing. A snapshot whose bucket is older than
 * the window changes only the carry into the window.
 */
export function applyBalanceSnapshot(policy: CompiledPolicy, stored: BalanceState | undefined, snapshot: BalanceSnapshotInput, firstCounted: number): BalanceState | null {
  const state = pruneBalances(stored ?? EMPTY_BALANCES, firstCounted);
  const at = state.accounts.findIndex((a) => a.accountId >= snapshot.accountId);
  const known = at >= 0 && (state.accounts[at] as AccountBalance).accountId === snapshot.accountId ? (state.accounts[at] as AccountBalance) : undefined;
  if (known !== undefined && known.asOf >= snapshot.asOf) return null;
  const delta = snapshot.balanceMinor - (known?.balanceMinor ?? 0);
  const accounts = state.accounts.slice();
  const entry: AccountBalance = { accountId: snapshot.accountId, balanceMinor: snapshot.balanceMinor, asOf: snapshot.asOf };
  if (known !== undefined) accounts[at] = entry;
  else accounts.splice(at < 0 ? accounts.length : at, 0, entry);
  if (delta === 0) return { baseSum: state.baseSum, accounts, buckets: state.buckets };

  const B = policy.bucketMs;
  const index = Math.floor(snapshot.asOf / B);
  const weight = BigInt(delta) * BigInt(snapshot.asOf - index * B);
  const buckets: BalanceBucket[] = [];
  let baseSum = state.baseSum;
  let prevSum = state.baseSum;
  let placed = index < firstCounted;
  if (placed) baseSum += delta;
  for (const b of state.buckets) {
    if (b.index < index) {
      prevSum = b.endSum;
      buckets.push(b);
      continue;
    }
    if (!placed) {
      placed = true;
      if (b.index === index) {
        buckets.push({ index, offsetWeight: b.offsetWeight + weight, endSum: b.endSum + delta });
        continue;
      }
      buckets.push({ index, offsetWeight: weight, endSum: prevSum + delta });
    }
    // A whole later bucket holds `delta` more: its end sum moves, its offset weight does not.
    buckets.push({ index: b.index, offsetWeight: b.offsetWeight, endSum: b.endSum + delta });
  }
  if (!placed) buckets.push({ index, offsetWeight: weight, endSum: prevSum + delta });
  return { baseSum, accounts, buckets };
}

/** Reads I_j for increasing j (implicit buckets filled from the carry). */
class IntegralCursor {
  private k = 0;
  /** I_j of a bucket without a snapshot: the carried sum × B (kept, it is read on most steps). */
  private implicit: bigint;
  constructor(
    private readonly state: BalanceState,
    private readonly bucketMs: bigint,
  ) {
    this.implicit = BigInt(state.baseSum) * bucketMs;
  }

  at(j: number): bigint {
    const buckets = this.state.buckets;
    while (this.k < buckets.length && (buckets[this.k] as BalanceBucket).index < j) {
      this.implicit = BigInt((buckets[this.k] as BalanceBucket).endSum) * this.bucketMs;
      this.k++;
    }
    const b = buckets[this.k];
    return b !== undefined && b.index === j ? BigInt(b.endSum) * this.bucketMs - b.offsetWeight : this.implicit;
  }
}

/** Σ I_j over the window ending with bucket `cur`, balance-milliseconds. */
function windowIntegral(policy: CompiledPolicy, state: BalanceState, cur: number): bigint {
  const W = policy.windowMs / policy.bucketMs;
  const B = BigInt(policy.bucketMs);
  const first = cur - W + 1;
  let total = 0n;
  let prevSum = state.baseSum;
  let pos = first;
  for (const b of state.buckets) {
    if (b.index > cur) break;
    if (b.index < first) {
      prevSum = b.endSum;
      continue;
    }
    if (b.index > pos) total += BigInt(prevSum) * BigInt(b.index - pos) * B;
    total += BigInt(b.endSum) * B - b.offsetWeight;
    prevSum = b.endSum;
    pos = b.index + 1;
  }
  if (cur >= pos) total += BigInt(prevSum) * BigInt(cur - pos + 1) * B;
  return total;
}

/** The customer's average daily balance at `now` (0 without balances). */
export function averageDailyBalance(policy: CompiledPolicy, state: BalanceState | undefined, now: number): number {
  if (state === undefined || (state.buckets.length === 0 && state.baseSum === 0)) return 0;
  return Number(floorDiv(windowIntegral(policy, state, Math.floor(now / policy.bucketMs)), BigInt(policy.windowMs)));
}

const BALANCE_THRESHOLDS = new WeakMap<CompiledPolicy, bigint[]>();

/**
 * The window integrals at which some averageDailyBalance condition of the policy (or its lower
 * bound relaxed by the margin) flips, ascending: with W = windowMs and the average
 * floor(t / W), `>= v` holds iff t >= v·W, `> v` iff t >= (v+1)·W, `< v` iff not t >= v·W,
 * `<= v` iff not t >= (v+1)·W. So every condition's truth is fixed while t stays between two
 * neighbouring thresholds. Computed once per policy.
 */
function balanceThresholds(policy: CompiledPolicy): bigint[] {
  let thresholds = BALANCE_THRESHOLDS.get(policy);
  if (thresholds === undefined) {
    const conditions: Condition[] = policy.tiers.flatMap((tier) => tier.conditions.filter((c) => c.metric === 'averageDailyBalance'));
    const margin = policy.hysteresis.downgradeMarginBps;
    const relaxed = margin === 0 ? [] : conditions.filter((c) => c.op === 'gt' || c.op === 'gte').map((c) => ({ ...c, value: relaxedBound(c.value, margin) }));
    const windowMs = BigInt(policy.windowMs);
    const values = new Set<bigint>([...conditions, ...relaxed].map((c) => BigInt(c.op === 'gte' || c.op === 'lt' ? c.value : c.value + 1) * windowMs));
    thresholds = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    BALANCE_THRESHOLDS.set(policy, thresholds);
  }
  return thresholds;
}

/**
 * The first bucket start after `now` at which, with no new snapshot, the average daily balance
 * makes some averageDailyBalance condition of the policy (or its margin-relaxed lower bound) flip;
 * null when none ever does. The window slides one bucket at each bucket start, so the average can
 * change only then; after the last stored bucket has left the window it stays constant.
 */
export function balanceDueTime(policy: CompiledPolicy, state: BalanceState | undefined, now: number): number | null {
  if (state === undefined) return null;
  const thresholds = balanceThresholds(policy);
  if (thresholds.length === 0) return null;
  const last = state.buckets[state.buckets.length - 1];
  if (last === undefined) return null;
  const W = policy.windowMs / policy.bucketMs;
  const cur = Math.floor(now / policy.bucketMs);
  let total = windowIntegral(policy, state, cur);
  // The interval [below, above) of thresholds the integral is in now: leaving it flips a condition.
  let at = 0;
  while (at < thresholds.length && (thresholds[at] as bigint) <= total) at++;
  const below = at > 0 ? (thresholds[at - 1] as bigint) : null;
  const above = at < thresholds.length ? (thresholds[at] as bigint) : null;
  const leaving = new IntegralCursor(state, BigInt(policy.bucketMs));
  const entering = new IntegralCursor(state, BigInt(policy.bucketMs));
  const end = Math.max(cur, last.index) + W;
  for (let c = cur + 1; c <= end; c++) {
    total += entering.at(c) - leaving.at(c - W);
    if ((above !== null && total >= above) || (below !== null && total < below)) return c * policy.bucketMs;
  }
  return null;
}
