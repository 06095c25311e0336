import { minorUnitDigits } from './currencies.js';
import { describeAllRules } from './describe.js';
import { formatDuration } from '../duration.js';
import { decimalToMinor, formatMinor } from './money.js';
import type { PolicyFile, PolicyFileTier } from './schema.js';
import type { Comparison, CompiledPolicy, CompiledTier, Condition, Metric, ShareBand, SignalSettings } from './types.js';

/** One reason a policy is invalid, at a field path such as `['tiers', 2, 'when', 'monetary', 'gt']`. */
export interface PolicyIssue {
  path: (string | number)[];
  message: string;
}

/**
 * Bucket count ceiling per window: memory per customer is bounded by window / bucket, and a policy
 * such as 365d in 1m buckets (525 600 per customer) is a mistake, not a wish.
 */
export const MAX_WINDOW_BUCKETS = 100_000;

/**
 * The shortest `ranking.every`: each instant holds every partition until its epoch is published
 * and re-evaluated (a coordinator round trip and a pass over the partition's customers).
 */
export const MIN_RANKING_EVERY_MS = 60_000;

const OPS: readonly Comparison[] = ['gt', 'gte', 'lt', 'lte'];

type Bounds<T> = Partial<Record<Comparison, T>>;

/** The inclusive integer range a set of bounds admits (±Infinity when open). */
function integerRange(conditions: readonly Condition[]): { lo: number; hi: number } {
  let lo = -Infinity;
  let hi = Infinity;
  for (const { op, value } of conditions) {
    if (op === 'gt') lo = Math.max(lo, value + 1);
    if (op === 'gte') lo = Math.max(lo, value);
    if (op === 'lt') hi = Math.min(hi, value - 1);
    if (op === 'lte') hi = Math.min(hi, value);
  }
  return { lo, hi };
}

function boundsToConditions<T>(
  metric: Metric,
  bounds: Bounds<T> | undefined,
  convert: (value: T, op: Comparison) => number | undefined,
): Condition[] {
  if (bounds === undefined) return [];
  const conditions: Condition[] = [];
  for (const op of OPS) {
    const raw = bounds[op];
    if (raw === undefined) continue;
    const value = convert(raw, op);
    if (value !== undefined) conditions.push({ metric, op, value });
  }
  return conditions;
}

function compileTier(
  tier: PolicyFileTier,
  index: number,
  tierCount: number,
  digits: number | undefined,
  issues: PolicyIssue[],
): CompiledTier {
  const at = (...rest: (string | number)[]): (string | number)[] => ['tiers', index, ...rest];
  const amounts = (metric: 'monetary' | 'averageDailyBalance' | 'profit'): Condition[] =>
    boundsToConditions(metric, tier.when?.[metric], (raw, op) => {
      if (digits === undefined) return undefined; // the currency issue is already reported
      try {
        return decimalToMinor(raw, digits);
      } catch (err) {
        issues.push({ path: at('when', metric, op), message: (err as Error).message });
        return undefined;
      }
    });
  const monetary = amounts('monetary');
  const frequency = boundsToConditions('frequency', tier.when?.frequency, (value) => value);
  const recency = boundsToConditions('recencyMs', tier.when?.recency, (value) => value);
  const averageDailyBalance = amounts('averageDailyBalance');
  const profit = amounts('profit');

  for (const [key, conditions] of [
    ['monetary', monetary],
    ['frequency', frequency],
    ['recency', recency],
    ['averageDailyBalance', averageDailyBalance],
    ['profit', profit],
  ] as const) {
    const { lo, hi } = integerRange(conditions);
    if (lo > hi) issues.push({ path: at('when', key), message: 'the bounds admit no value (lower bound above upper bound)' });
  }

  const conditions = [...monetary, ...frequency, ...recency, ...averageDailyBalance, ...profit];
  const compiled: CompiledTier = { name: tier.name, rank: tierCount - index + 1, conditions };
  const relative: ShareBand[] = [];
  for (const metric of ['monetary', 'frequency'] as const) {
    const band = tier.relative?.[metric];
    if (band !== undefined) relative.push({ metric, fromBps: band.fromBps, toBps: band.toBps });
  }
  // Absent rather than empty on absolute tiers, so their policies hash as before.
  if (relative.length > 0) compiled.relative = relative;
  if (conditions.length === 0 && relative.length === 0 && tier.when?.monetary === undefined && index < tierCount - 1) {
    issues.push({ path: at('when'), message: `tier "${tier.name}" has no conditions, so it matches everyone and the tiers after it are unreachable` });
  }
  return compiled;
}

function rangeText(range: { lo: number; hi: number }, digits: number, currency: string): string {
  const lo = range.lo === -Infinity ? '-∞' : formatMinor(range.lo, digits);
  const hi = range.hi === Infinity ? '+∞' : formatMinor(range.hi, digits);
  return `[${lo}, ${hi}] ${currency}`;
}

/**
 * Consecutive tiers that test only monetary form a ladder: each must sit entirely above the next
 * (sorted descending, no overlap). First-match-wins would hide an overlap, which is exactly why it
 * is reported: it almost always means a typo in a threshold.
 */
function checkMonetaryLadder(tiers: readonly CompiledTier[], digits: number, currency: string, issues: PolicyIssue[]): void {
  const monetaryOnly = (tier: CompiledTier): boolean =>
    tier.relative === undefined && tier.conditions.length > 0 && tier.conditions.every((c) => c.metric === 'monetary');
  for (let i = 0; i + 1 < tiers.length; i += 1) {
    const upper = tiers[i];
    const lower = tiers[i + 1];
    if (upper === undefined || lower === undefined || !monetaryOnly(upper) || !monetaryOnly(lower)) continue;
    const a = integerRange(upper.conditions);
    const b = integerRange(lower.conditions);
    if (a.lo > b.hi) continue;
    const overlaps = Math.max(a.lo, b.lo) <= Math.min(a.hi, b.hi);
    const path = ['tiers', i + 1, 'when', 'monetary'];
    const mine = `tier "${lower.name}" ${rangeText(b, digits, currency)}`;
    const theirs = `tier "${upper.name}" ${rangeText(a, digits, currency)}`;
    issues.push({
      path,
      message: overlaps
        ? `${mine} overlaps ${theirs} (tiers[${i}]); monetary-only tiers must not overlap`
        : `${mine} lies above ${theirs} (tiers[${i}]); monetary-only tiers must be listed from highest to lowest`,
    });
  }
}

/**
 * The signal settings, or undefined when the file has none. Refused (with the field named) is a
 * setting that could never act: NEAR_UPGRADE when no tier has a monetary lower bound (no customer
 * is ever near one), DOWNGRADE_PENDING without a downgrade grace (no downgrade ever waits).
 */
function compileSignals(file: PolicyFile, tiers: readonly CompiledTier[], digits: number | undefined, issues: PolicyIssue[]): SignalSettings | undefined {
  const signals = file.signals;
  if (signals === undefined) return undefined;
  let nearUpgrade: SignalSettings['nearUpgrade'] = null;
  if (signals.nearUpgrade !== undefined) {
    const { within, cooldown } = signals.nearUpgrade;
    const hasThreshold = tiers.some((tier) => tier.conditions.some((c) => c.metric === 'monetary' && (c.op === 'gt' || c.op === 'gte')));
    if (!hasThreshold) {
      issues.push({ path: ['signals', 'nearUpgrade'], message: 'no tier has a monetary lower bound (gt/gte), so no customer is ever near an upgrade' });
    }
    if (within.ofThreshold !== undefined) {
      nearUpgrade = { within: { thresholdBps: within.ofThreshold }, cooldownMs: cooldown };
    } else if (within.amount !== undefined && digits !== undefined) {
      try {
        const amountMinor = decimalToMinor(within.amount, digits);
        if (amountMinor <= 0) issues.push({ path: ['signals', 'nearUpgrade', 'within', 'amount'], message: 'must be more than 0' });
        nearUpgrade = { within: { amountMinor }, cooldownMs: cooldown };
      } catch (err) {
        issues.push({ path: ['signals', 'nearUpgrade', 'within', 'amount'], message: (err as Error).message });
      }
    }
  }
  const downgradePending = signals.downgradePending === true;
  if (downgradePending && (file.hysteresis?.downgradeGrace ?? 0) === 0) {
    issues.push({ path: ['signals', 'downgradePending'], message: 'needs hysteresis.downgradeGrace > 0: without a grace period no downgrade ever waits' });
  }
  return { nearUpgrade, downgradePending };
}

/**
 * Turns a schema-valid policy file into the compiled policy, applying the cross-field rules:
 *  - `currency` must be a known ISO 4217 code; amounts must be exact in its minor unit;
 *  - `bucket` must not exceed `window`, must divide it exactly, and give at most
 *    {@link MAX_WINDOW_BUCKETS} buckets;
 *  - tier names are unique; the fallback and the inactive tier are names of their own (never a
 *    listed tier, never each other), because each name has exactly one rank and one rule;
 *  - every condition's bounds admit some value; only the last tier may have no conditions;
 *  - consecutive monetary-only tiers are sorted descending and do not overlap;
 *  - every signal setting can act (see compileSignals); signals are refused with relative tiers;
 *  - `ranking` is given only with some relative tier (it defaults to active purchasers);
 *    `ranking.every` is at least {@link MIN_RANKING_EVERY_MS}.
 * Ranks follow order: `tiers[i]` gets `tiers.length - i + 1`, the fallback 1, the inactive tier 0.
 */
export function compilePolicy(file: PolicyFile): { policy: CompiledPolicy; issues: [] } | { policy: null; issues: PolicyIssue[] } {
  const issues: PolicyIssue[] = [];
  const digits = minorUnitDigits(file.currency);
  if (digits === undefined) {
    issues.push({ path: ['currency'], message: `unknown currency "${file.currency}"; expected an ISO 4217 code such as CNY, USD, EUR, JPY` });
  }

  if (file.bucket > file.window) {
    issues.push({ path: ['bucket'], message: `bucket ${formatDuration(file.bucket)} is longer than the window ${formatDuration(file.window)}` });
  } else if (file.window % file.bucket !== 0) {
    issues.push({ path: ['bucket'], message: `bucket ${formatDuration(file.bucket)} does not divide the window ${formatDuration(file.window)} exactly` });
  } else if (file.window / file.bucket > MAX_WINDOW_BUCKETS) {
    issues.push({ path: ['bucket'], message: `window / bucket is ${file.window / file.bucket} buckets per customer; at most ${MAX_WINDOW_BUCKETS}` });
  }

  const firstIndex = new Map<string, number>();
  file.tiers.forEach((tier, index) => {
    const earlier = firstIndex.get(tier.name);
    if (earlier === undefined) firstIndex.set(tier.name, index);
    else issues.push({ path: ['tiers', index, 'name'], message: `duplicate tier name "${tier.name}" (also tiers[${earlier}])` });
  });
  if (firstIndex.has(file.fallback)) {
    issues.push({ path: ['fallback'], message: `"${file.fallback}" is also a listed tier; the fallback needs a name of its own` });
  }
  if (file.inactivity !== undefined) {
    const inactive = file.inactivity.tier;
    if (firstIndex.has(inactive)) {
      issues.push({ path: ['inactivity', 'tier'], message: `"${inactive}" is also a listed tier; the inactive tier needs a name of its own` });
    } else if (inactive === file.fallback) {
      issues.push({ path: ['inactivity', 'tier'], message: `"${inactive}" is also the fallback tier; the inactive tier needs a name of its own` });
    }
  }

  const tiers = file.tiers.map((tier, index) => compileTier(tier, index, file.tiers.length, digits, issues));
  if (digits !== undefined) checkMonetaryLadder(tiers, digits, file.currency, issues);
  const relative = tiers.some((tier) => tier.relative !== undefined);
  if (file.ranking !== undefined && !relative) {
    issues.push({ path: ['ranking'], message: 'no tier has relative conditions, so nobody is ranked; remove ranking or add tiers[].relative' });
  }
  const every = file.ranking?.every;
  if (every !== undefined && every < MIN_RANKING_EVERY_MS) {
    issues.push({ path: ['ranking', 'every'], message: `${formatDuration(every)} is below ${formatDuration(MIN_RANKING_EVERY_MS)}: every instant holds every partition until the coordinator has published its epoch, so instants closer than that would stop the scorers more than they score` });
  }
  // The signal rules measure distances to absolute monetary bounds; next to share-of-customers
  // tiers they would stay silent for those tiers, so the combination is refused rather than accepted.
  if (relative && file.signals !== undefined) {
    issues.push({ path: ['signals'], message: 'signals are not evaluated together with relative (share-of-customers) tiers by this version; remove signals or use absolute thresholds' });
  }
  const signals = compileSignals(file, tiers, digits, issues);
  if (issues.length > 0 || digits === undefined) return { policy: null, issues };

  const policy: CompiledPolicy = {
    version: file.version,
    name: file.name,
    currency: file.currency,
    minorUnitDigits: digits,
    windowMs: file.window,
    bucketMs: file.bucket,
    inactivityMs: file.inactivity?.after ?? null,
    inactiveTier: file.inactivity?.tier ?? null,
    tiers,
    fallbackTier: file.fallback,
    hysteresis: {
      downgradeGraceMs: file.hysteresis?.downgradeGrace ?? 0,
      downgradeMarginBps: file.hysteresis?.downgradeMargin ?? 0,
    },
  };
  if (signals !== undefined) policy.signals = signals;
  if (relative) policy.ranking = { population: file.ranking?.population ?? 'active-purchasers', ...(every === undefined ? {} : { everyMs: every }) };
  policy.rules = describeAllRules(policy);
  return { policy, issues: [] };
}
