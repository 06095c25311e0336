import type { BalanceRecord, EngineRecord } from '../../src/engine/types.js';
import type { CompiledPolicy, Condition } from '../../src/policy/types.js';

/**
 * A plain in-memory model of the scoring contract (docs/ARCHITECTURE.md, "Scoring contract"), written for the
 * tests independently of src/engine: maps and loops, no timer queue (timers are found by scanning
 * every customer), no caching, no early timers. The property tests compare the engine, and the
 * engine behind the Redis store, against it.
 */

/** The model takes the engine's input records (a data shape, no logic of the engine's). */
export type ModelRecord = EngineRecord | BalanceRecord;

export interface ModelSnapshot {
  monetary: number;
  frequency: number;
  recencyMs: number | null;
  lastPurchaseAt: number | null;
  averageDailyBalance: number;
  profit: number;
}

export interface ModelChange {
  eventId: string;
  customerId: string;
  previousTier: string | null;
  newTier: string;
  direction: 'UP' | 'DOWN' | 'NEW';
  cause: 'TRANSACTION' | 'REFUND' | 'TIME' | 'BALANCE';
  transactionId: string | null;
  effectiveAt: number;
  policyVersion: string;
  before: ModelSnapshot;
  after: ModelSnapshot;
  boundaryTier: string;
  headroom: ModelHeadroom;
}

export interface ModelHeadroom {
  toNextTierUp: number | null;
  toDowngrade: number | null;
  averageDailyBalanceToNextTierUp: number | null;
  averageDailyBalanceToDowngrade: number | null;
}

/** A signal as the model writes it (the contract's fields). */
export interface ModelSignal {
  signalId: string;
  customerId: string;
  type: 'NEAR_UPGRADE' | 'DOWNGRADE_PENDING' | 'DOWNGRADE_CANCELLED';
  tier: string;
  targetTier: string | null;
  cause: 'TRANSACTION' | 'REFUND' | 'TIME' | 'BALANCE';
  transactionId: string | null;
  effectiveAt: number;
  policyVersion: string;
  /** The contract's R/F/M: monetary, frequency and recency only. */
  rfm: Pick<ModelSnapshot, 'monetary' | 'frequency' | 'recencyMs' | 'lastPurchaseAt'>;
  spendToUpgrade: number | null;
  takesEffectAt: number | null;
  spendToStay: number | null;
}

export interface ModelCustomer {
  buckets: Map<number, { m: number; f: number; p: number }>;
  /** Every applied snapshot per account, in asOf order: the whole balance history. */
  accounts: Map<string, { asOf: number; balance: number }[]>;
  lastPurchaseAt: number | null;
  tier: string | null;
  tierSince: number | null;
  pendingDowngradeSince: number | null;
  seq: number;
  due: number | null;
  signalSeq: number;
  /** When the last NEAR_UPGRADE went out (the cooldown runs from it). */
  nearUpgradeAt: number | null;
}

export interface ModelCounts {
  applied: number;
  duplicate: number;
  late: number;
  stale: number;
  changes: number;
  signals: number;
}

export class ReferenceModel {
  readonly customers = new Map<string, ModelCustomer>();
  readonly changes: ModelChange[] = [];
  readonly signals: ModelSignal[] = [];
  readonly counts: ModelCounts = { applied: 0, duplicate: 0, late: 0, stale: 0, changes: 0, signals: 0 };
  /** Transaction id -> when its claim expires. */
  private readonly claims = new Map<string, number>();
  private lastOffset = -1;
  private balanceLastOffset = -1;
  private eventWatermark: number | null = null;

  constructor(
    private readonly policy: CompiledPolicy,
    private readonly mode: 'event' | 'wall',
    /** An opted-in dedupe horizon; null: a claim lives as long as its transaction's bucket counts. */
    private readonly horizonMs: number | null = null,
  ) {}

  /** Listed tiers carry their rank; the fallback ranks 1 and the inactive tier 0 (types.ts). */
  rank(tier: string): number {
    if (tier === this.policy.inactiveTier) return 0;
    if (tier === this.policy.fallbackTier) return 1;
    return this.policy.tiers.find((t) => t.name === tier)?.rank ?? 0;
  }

  private windowStart(now: number): number {
    return Math.floor(now / this.policy.bucketMs) - this.policy.windowMs / this.policy.bucketMs + 1;
  }

  snapshot(c: ModelCustomer, now: number): ModelSnapshot & { oldest: number | null } {
    const start = this.windowStart(now);
    let monetary = 0;
    let frequency = 0;
    let profit = 0;
    let oldest: number | null = null;
    for (const [idx, b] of c.buckets) {
      if (idx < start) continue;
      monetary += b.m;
      frequency += b.f;
      profit += b.p;
      oldest = oldest === null ? idx : Math.min(oldest, idx);
    }
    const lp = c.lastPurchaseAt;
    return { monetary, frequency, recencyMs: lp === null ? null : now - lp, lastPurchaseAt: lp, averageDailyBalance: this.averageDailyBalance(c, now), profit, oldest };
  }

  /**
   * Day by day: for every bucket of the window ending with now's bucket, integrate each account's
   * step function (its snapshots so far, the latest carried on) over the bucket's whole span;
   * sum, floor-divide by the window length.
   */
  averageDailyBalance(c: ModelCustomer, now: number): number {
    const B = this.policy.bucketMs;
    const cur = Math.floor(now / B);
    let total = 0n;
    for (let j = this.windowStart(now); j <= cur; j++) {
      for (const history of c.accounts.values()) {
        for (let k = 0; k < history.length; k++) {
          const snap = history[k] as { asOf: number; balance: number };
          const from = Math.max(snap.asOf, j * B);
          const to = Math.min(history[k + 1]?.asOf ?? Infinity, (j + 1) * B);
          if (to > from) total += BigInt(snap.balance) * BigInt(to - from);
        }
      }
    }
    const w = BigInt(this.policy.windowMs);
    let q = total / w;
    if (total % w !== 0n && total < 0n) q -= 1n;
    return Number(q);
  }

  private relaxed(cond: Condition): number {
    const money = cond.metric === 'monetary' || cond.metric === 'averageDailyBalance' || cond.metric === 'profit';
    if (!money || (cond.op !== 'gt' && cond.op !== 'gte')) return cond.value;
    return Math.floor((cond.value * (10000 - this.policy.hysteresis.downgradeMarginBps)) / 10000);
  }

  private conditionHolds(cond: Condition, s: ModelSnapshot, relax: boolean): boolean {
    const value = relax ? this.relaxed(cond) : cond.value;
    let x: number;
    if (cond.metric === 'monetary') x = s.monetary;
    else if (cond.metric === 'frequency') x = s.frequency;
    else if (cond.metric === 'averageDailyBalance') x = s.averageDailyBalance;
    else if (cond.metric === 'profit') x = s.profit;
    else if (s.recencyMs === null) return cond.op === 'gt' || cond.op === 'gte';
    else x = s.recencyMs;
    return cond.op === 'gt' ? x > value : cond.op === 'gte' ? x >= value : cond.op === 'lt' ? x < value : x <= value;
  }

  /** Raw tier and rule ('inactive', 'fallback' or the tier name). */
  raw(s: ModelSnapshot, now: number): { tier: string; rule: string } {
    const p = this.policy;
    if (p.inactivityMs !== null && s.lastPurchaseAt !== null && now - s.lastPurchaseAt >= p.inactivityMs) {
      return { tier: p.inactiveTier ?? '', rule: 'inactive' };
    }
    const hit = p.tiers.find((t) => t.conditions.every((c) => this.conditionHolds(c, s, false)));
    return hit ? { tier: hit.name, rule: hit.name } : { tier: p.fallbackTier, rule: 'fallback' };
  }

  headroom(tier: string, s: ModelSnapshot): ModelHeadroom {
    const m = this.metricHeadroom(tier, 'monetary', s.monetary);
    const b = this.metricHeadroom(tier, 'averageDailyBalance', s.averageDailyBalance);
    return { toNextTierUp: m.up, toDowngrade: m.down, averageDailyBalanceToNextTierUp: b.up, averageDailyBalanceToDowngrade: b.down };
  }

  private metricHeadroom(tier: string, metric: 'monetary' | 'averageDailyBalance', value: number): { up: number | null; down: number | null } {
    const tiers = this.policy.tiers;
    const at = tiers.findIndex((t) => t.name === tier);
    const higher = tier === this.policy.fallbackTier ? tiers[tiers.length - 1] : at > 0 ? tiers[at - 1] : undefined;
    let up: number | null = null;
    if (higher) {
      const lower = higher.conditions.filter((c) => c.metric === metric && (c.op === 'gt' || c.op === 'gte'));
      if (lower.length > 0) {
        const need = Math.max(0, ...lower.map((c) => (c.op === 'gt' ? c.value + 1 - value : c.value - value)));
        const uppers = higher.conditions.filter((c) => c.metric === metric && (c.op === 'lt' || c.op === 'lte'));
        const fits = uppers.every((c) => (c.op === 'lt' ? value + need < c.value : value + need <= c.value));
        up = fits ? need : null;
      }
    }
    // Against the bounds relaxed by the margin: those are what trigger a downgrade.
    const own = at >= 0 ? tiers[at] : undefined;
    const floors = (own?.conditions ?? [])
      .filter((c) => c.metric === metric && (c.op === 'gt' || c.op === 'gte'))
      .map((c) => this.relaxed(c) + (c.op === 'gt' ? 1 : 0));
    return { up, down: floors.length > 0 ? Math.max(0, value - Math.max(...floors)) : null };
  }

  /** The next instant after `now` at which c's tier could change with no new event. */
  dueAfter(c: ModelCustomer, now: number, oldest: number | null): number | null {
    const p = this.policy;
    const candidates: number[] = [];
    if (oldest !== null) candidates.push(oldest * p.bucketMs + p.windowMs);
    if (c.lastPurchaseAt !== null) {
      if (p.inactivityMs !== null) candidates.push(c.lastPurchaseAt + p.inactivityMs);
      for (const t of p.tiers) for (const cond of t.conditions) {
        if (cond.metric === 'recencyMs') candidates.push(c.lastPurchaseAt + cond.value, c.lastPurchaseAt + cond.value + 1);
      }
    }
    if (c.pendingDowngradeSince !== null) candidates.push(c.pendingDowngradeSince + p.hysteresis.downgradeGraceMs);
    const balanceDue = this.balanceDue(c, now);
    if (balanceDue !== null) candidates.push(balanceDue);
    const future = candidates.filter((t) => t > now);
    return future.length === 0 ? null : Math.min(...future);
  }

  /**
   * The first bucket start after `now` at which some averageDailyBalance condition (or its relaxed
   * lower bound) would hold differently, the balances staying as they are: tried bucket by bucket
   * until every snapshot so far is older than the window.
   */
  private balanceDue(c: ModelCustomer, now: number): number | null {
    const p = this.policy;
    const conds = p.tiers.flatMap((t) => t.conditions.filter((cond) => cond.metric === 'averageDailyBalance'));
    if (conds.length === 0 || c.accounts.size === 0) return null;
    const test = (x: number): string => conds.map((cond) => [cond.value, this.relaxed(cond)].map((v) => (cond.op === 'gt' ? x > v : cond.op === 'gte' ? x >= v : cond.op === 'lt' ? x < v : x <= v)).join()).join();
    const start = test(this.averageDailyBalance(c, now));
    const lastAsOf = Math.max(...[...c.accounts.values()].flatMap((h) => h.map((s) => s.asOf)));
    const cur = Math.floor(now / p.bucketMs);
    const end = Math.max(cur, Math.floor(lastAsOf / p.bucketMs)) + p.windowMs / p.bucketMs;
    for (let j = cur + 1; j <= end; j++) {
      if (test(this.averageDailyBalance(c, j * p.bucketMs)) !== start) return j * p.bucketMs;
    }
    return null;
  }

  /**
   * The signal rules, written from the contract (docs/ARCHITECTURE.md, "Signals"), on the state
   * after the tier decision: a downgrade that started waiting (pending was null, is set now), or
   * stopped waiting with no tier change; then NEAR_UPGRADE when the spend missing to the tier
   * above is more than 0 and at most the allowance, once per cooldown. Returns the instant the
   * cooldown ends while the customer is near (it must be evaluated again then), else null.
   */
  private signal(id: string, c: ModelCustomer, now: number, cause: ModelChange['cause'], txId: string | null, rfm: ModelSnapshot, raw: string, priorPending: number | null, changed: boolean): number | null {
    const p = this.policy;
    const settings = p.signals;
    if (settings === undefined || c.tier === null) return null;
    const tier = c.tier;
    const push = (type: ModelSignal['type'], extra: Pick<ModelSignal, 'targetTier' | 'spendToUpgrade' | 'takesEffectAt' | 'spendToStay'>): void => {
      c.signalSeq += 1;
      this.signals.push({ signalId: `${id}:s:${c.signalSeq}`, customerId: id, type, tier, cause, transactionId: cause === 'TIME' ? null : txId, effectiveAt: now, policyVersion: p.version, rfm: { monetary: rfm.monetary, frequency: rfm.frequency, recencyMs: rfm.recencyMs, lastPurchaseAt: rfm.lastPurchaseAt }, ...extra });
      this.counts.signals += 1;
    };
    const grace = p.hysteresis.downgradeGraceMs;
    if (settings.downgradePending && priorPending === null && c.pendingDowngradeSince !== null) {
      // What the customer would have to spend for every monetary floor of its tier (relaxed by the margin) to hold.
      const own = p.tiers.find((t) => t.name === tier);
      const bps = p.hysteresis.downgradeMarginBps;
      const floors = (own?.conditions ?? [])
        .filter((k) => k.metric === 'monetary' && (k.op === 'gt' || k.op === 'gte'))
        .map((k) => Math.floor((k.value * (10000 - bps)) / 10000) + (k.op === 'gt' ? 1 : 0));
      const stay = floors.length === 0 ? null : Math.max(0, Math.max(...floors) - rfm.monetary);
      push('DOWNGRADE_PENDING', { targetTier: raw, spendToUpgrade: null, takesEffectAt: c.pendingDowngradeSince + grace, spendToStay: stay });
    } else if (settings.downgradePending && priorPending !== null && c.pendingDowngradeSince === null && !changed) {
      push('DOWNGRADE_CANCELLED', { targetTier: null, spendToUpgrade: null, takesEffectAt: priorPending + grace, spendToStay: null });
    }
    const near = settings.nearUpgrade;
    if (near === null) return null;
    // The tier above: the last listed one from the fallback, the previous one from a listed tier, none from inactive or the top.
    const at = p.tiers.findIndex((t) => t.name === tier);
    const above = tier === p.fallbackTier ? p.tiers[p.tiers.length - 1] : at > 0 ? p.tiers[at - 1] : undefined;
    if (above === undefined) return null;
    const floors = above.conditions.filter((k) => k.metric === 'monetary' && (k.op === 'gt' || k.op === 'gte')).map((k) => (k.op === 'gt' ? k.value + 1 : k.value));
    if (floors.length === 0) return null;
    const threshold = Math.max(...floors);
    const missing = Math.max(0, threshold - rfm.monetary);
    const capped = above.conditions.some((k) => k.metric === 'monetary' && ((k.op === 'lt' && rfm.monetary + missing >= k.value) || (k.op === 'lte' && rfm.monetary + missing > k.value)));
    const allowed = 'amountMinor' in near.within ? near.within.amountMinor : Math.floor((threshold * near.within.thresholdBps) / 10000);
    if (capped || missing === 0 || missing > allowed) return null;
    if (c.nearUpgradeAt === null || now >= c.nearUpgradeAt + near.cooldownMs) {
      push('NEAR_UPGRADE', { targetTier: above.name, spendToUpgrade: missing, takesEffectAt: null, spendToStay: null });
      c.nearUpgradeAt = now;
    }
    return c.nearUpgradeAt + near.cooldownMs;
  }

  private evaluate(id: string, c: ModelCustomer, now: number, cause: ModelChange['cause'], txId: string | null, before: ModelSnapshot | null): void {
    const p = this.policy;
    const priorPending = c.pendingDowngradeSince;
    const after = this.snapshot(c, now);
    const { tier: rawTier } = this.raw(after, now);
    let next = rawTier;
    const current = c.tier;
    if (current !== null) {
      if (this.rank(rawTier) < this.rank(current) && rawTier !== p.inactiveTier) {
        const own = p.tiers.find((t) => t.name === current);
        if (own && own.conditions.every((cond) => this.conditionHolds(cond, after, true))) next = current;
      }
      if (this.rank(next) < this.rank(current)) {
        if (p.hysteresis.downgradeGraceMs > 0 && next !== p.inactiveTier) {
          if (c.pendingDowngradeSince === null) {
            c.pendingDowngradeSince = now;
            next = current;
          } else if (now - c.pendingDowngradeSince < p.hysteresis.downgradeGraceMs) {
            next = current;
          }
        }
      } else {
        c.pendingDowngradeSince = null;
      }
    }
    if (next !== current) {
      c.seq += 1;
      c.tier = next;
      c.tierSince = now;
      c.pendingDowngradeSince = null;
      const direction = current === null ? 'NEW' : this.rank(next) > this.rank(current) ? 'UP' : 'DOWN';
      const { oldest: _o, ...afterSnap } = after;
      const b = before ?? afterSnap;
      this.changes.push({
        eventId: `${id}:${c.seq}`,
        customerId: id,
        previousTier: current,
        newTier: next,
        direction,
        cause,
        transactionId: txId,
        effectiveAt: now,
        policyVersion: p.version,
        before: { monetary: b.monetary, frequency: b.frequency, recencyMs: b.recencyMs, lastPurchaseAt: b.lastPurchaseAt, averageDailyBalance: b.averageDailyBalance, profit: b.profit },
        after: afterSnap,
        boundaryTier: direction === 'DOWN' && next !== p.inactiveTier ? (current ?? '') : next,
        headroom: this.headroom(next, afterSnap),
      });
      this.counts.changes += 1;
    }
    const { oldest, ...rfm } = after;
    const due = this.dueAfter(c, now, oldest);
    const cooldownEnds = this.signal(id, c, now, cause, txId, rfm, rawTier, priorPending, next !== current);
    c.due = cooldownEnds === null ? due : due === null ? cooldownEnds : Math.min(due, cooldownEnds);
  }

  private fire(id: string, c: ModelCustomer): void {
    const at = c.due as number;
    this.evaluate(id, c, at, 'TIME', null, null);
  }

  /** Fire every timer due at or before `upTo`, in (due, customerId) order. */
  fireAll(upTo: number): void {
    for (;;) {
      let best: [string, ModelCustomer] | null = null;
      for (const entry of this.customers) {
        const due = entry[1].due;
        if (due === null || due > upTo) continue;
        const bestDue = best?.[1].due ?? Infinity;
        if (best === null || due < bestDue || (due === bestDue && entry[0] < best[0])) best = entry;
      }
      if (best === null) return;
      this.fire(best[0], best[1]);
    }
  }

  private customer(id: string): ModelCustomer {
    let c = this.customers.get(id);
    if (!c) {
      c = { buckets: new Map(), accounts: new Map(), lastPurchaseAt: null, tier: null, tierSince: null, pendingDowngradeSince: null, seq: 0, due: null, signalSeq: 0, nearUpgradeAt: null };
      this.customers.set(id, c);
    }
    return c;
  }

  /** A balance snapshot: its own watermark; per account only a later asOf applies. */
  private applyBalance(r: BalanceRecord, wallNow: number | undefined): void {
    if (r.offset <= this.balanceLastOffset) {
      this.counts.stale += 1;
      return;
    }
    this.balanceLastOffset = r.offset;
    const history = this.customers.get(r.customerId)?.accounts.get(r.accountId);
    if (history !== undefined && (history[history.length - 1] as { asOf: number }).asOf >= r.eventTime) {
      this.counts.duplicate += 1;
      return;
    }
    const now = this.mode === 'event' ? Math.max(this.eventWatermark ?? -Infinity, r.eventTime) : (wallNow as number);
    if (this.mode === 'event') this.fireAll(r.eventTime);
    this.eventWatermark = Math.max(this.eventWatermark ?? -Infinity, r.eventTime);
    const existing = this.customers.get(r.customerId);
    if (this.mode === 'wall' && existing) {
      while (existing.due !== null && existing.due <= now) this.fire(r.customerId, existing);
    }
    const c = this.customer(r.customerId);
    const { oldest: _o, ...before } = this.snapshot(c, now);
    const list = c.accounts.get(r.accountId) ?? [];
    list.push({ asOf: r.eventTime, balance: r.balanceMinor });
    c.accounts.set(r.accountId, list);
    if (Math.floor(r.eventTime / this.policy.bucketMs) < this.windowStart(now)) this.counts.late += 1;
    else this.counts.applied += 1;
    this.evaluate(r.customerId, c, now, 'BALANCE', null, before);
  }

  applyBatch(records: readonly ModelRecord[], wallNow?: number): void {
    for (const r of records) {
      if (r.kind === 'balance') {
        this.applyBalance(r, wallNow);
        continue;
      }
      if (r.offset <= this.lastOffset) {
        this.counts.stale += 1;
        continue;
      }
      this.lastOffset = r.offset;
      const now = this.mode === 'event' ? Math.max(this.eventWatermark ?? -Infinity, r.eventTime) : (wallNow as number);
      const claim = this.claims.get(r.transactionId);
      if (claim !== undefined && claim > now) {
        this.counts.duplicate += 1;
        continue;
      }
      if (this.mode === 'event') this.fireAll(r.eventTime);
      this.eventWatermark = Math.max(this.eventWatermark ?? -Infinity, r.eventTime);
      const existing = this.customers.get(r.customerId);
      if (this.mode === 'wall' && existing) {
        while (existing.due !== null && existing.due <= now) this.fire(r.customerId, existing);
      }
      const idx = Math.floor(r.eventTime / this.policy.bucketMs);
      const cause = r.kind === 'purchase' ? 'TRANSACTION' : 'REFUND';
      if (idx < this.windowStart(now)) {
        // Older than the window: no amounts, but a purchase makes (or keeps) a customer whose
        // last purchase time counts.
        this.counts.late += 1;
        if (r.kind === 'refund') continue;
        const c = this.customer(r.customerId);
        const { oldest: _o, ...before } = this.snapshot(c, now);
        c.lastPurchaseAt = Math.max(c.lastPurchaseAt ?? -Infinity, r.eventTime);
        this.evaluate(r.customerId, c, now, cause, r.transactionId, before);
        continue;
      }
      const c = this.customer(r.customerId);
      const { oldest: _o, ...before } = this.snapshot(c, now);
      const bucket = c.buckets.get(idx) ?? { m: 0, f: 0, p: 0 };
      c.buckets.set(idx, bucket);
      bucket.p += r.profitMinor ?? 0;
      if (r.kind === 'purchase') {
        bucket.m += r.amountMinor;
        bucket.f += 1;
        c.lastPurchaseAt = Math.max(c.lastPurchaseAt ?? -Infinity, r.eventTime);
      } else {
        bucket.m -= r.amountMinor;
      }
      const exit = idx * this.policy.bucketMs + this.policy.windowMs;
      this.claims.set(r.transactionId, this.horizonMs === null ? exit : Math.min(exit, now + this.horizonMs));
      this.counts.applied += 1;
      this.evaluate(r.customerId, c, now, cause, r.transactionId, before);
    }
  }
}
