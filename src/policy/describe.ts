import { formatDuration } from '../duration.js';
import { formatMinor } from './money.js';
import type { Comparison, CompiledPolicy, CompiledTier, Condition, ShareBand } from './types.js';

const OPERATOR_TEXT: Record<Comparison, string> = { gt: '>', gte: '>=', lt: '<', lte: '<=' };

/** Rule text of one condition: "monetary > 58900.00 CNY", "frequency >= 52", "recency <= 30d". */
export function describeCondition(policy: Pick<CompiledPolicy, 'currency' | 'minorUnitDigits'>, condition: Condition): string {
  const op = OPERATOR_TEXT[condition.op];
  switch (condition.metric) {
    case 'monetary':
      return `monetary ${op} ${formatMinor(condition.value, policy.minorUnitDigits)} ${policy.currency}`;
    case 'frequency':
      return `frequency ${op} ${condition.value}`;
    case 'recencyMs':
      return `recency ${op} ${formatDuration(condition.value)}`;
    case 'averageDailyBalance':
      return `averageDailyBalance ${op} ${formatMinor(condition.value, policy.minorUnitDigits)} ${policy.currency}`;
    case 'profit':
      return `profit ${op} ${formatMinor(condition.value, policy.minorUnitDigits)} ${policy.currency}`;
  }
}

/** A share in basis points as text: 100 -> "1%", 1250 -> "12.5%". */
export function formatShare(bps: number): string {
  return `${(bps / 100).toString()}%`;
}

/** Rule text of a relative condition: "monetary in top 1%", "frequency in top 20%-40%". */
export function describeShareBand(band: ShareBand): string {
  const range = band.fromBps === 0 ? formatShare(band.toBps) : `${formatShare(band.fromBps)}-${formatShare(band.toBps)}`;
  return `${band.metric} in top ${range}`;
}

function describeListedTier(policy: CompiledPolicy, tier: CompiledTier): string {
  const parts = tier.conditions.map((condition) => describeCondition(policy, condition));
  for (const band of tier.relative ?? []) parts.push(describeShareBand(band));
  return parts.length === 0 ? 'always' : parts.join(' and ');
}

/**
 * The rule that puts a customer into tier `name`, as shown in a change record's boundary:
 * the tier's conditions joined with "and" ("always" when it has none), "fallback: no tier
 * matched" for the fallback tier, "inactive: no purchase for 180d" for the inactive tier.
 *
 * @throws RangeError when `name` is not a tier of the policy.
 */
export function describeTierRule(policy: CompiledPolicy, name: string): string {
  if (name === policy.inactiveTier && policy.inactivityMs !== null) {
    return `inactive: no purchase for ${formatDuration(policy.inactivityMs)}`;
  }
  if (name === policy.fallbackTier) return 'fallback: no tier matched';
  const tier = policy.tiers.find((candidate) => candidate.name === name);
  if (tier === undefined) throw new RangeError(`"${name}" is not a tier of policy ${policy.name}`);
  return describeListedTier(policy, tier);
}

/** Rule text of every tier name of the policy (what the loader stores in `CompiledPolicy.rules`). */
export function describeAllRules(policy: CompiledPolicy): Record<string, string> {
  const names = policy.tiers.map((tier) => tier.name);
  names.push(policy.fallbackTier);
  if (policy.inactiveTier !== null) names.push(policy.inactiveTier);
  return Object.fromEntries(names.map((name) => [name, describeTierRule(policy, name)]));
}

/** The stored rule text of `name`, derived when a hand-built policy has no `rules`. */
export function ruleText(policy: CompiledPolicy, name: string): string {
  return policy.rules?.[name] ?? describeTierRule(policy, name);
}

/**
 * The whole policy in words, one line per fact, for `pyramid policy check`: name and version,
 * currency, window and bucket, every tier's rule in ranking order (most valuable first, then the
 * fallback and the inactive tier), the inactivity rule, the hysteresis and the signals.
 */
export function describePolicy(policy: CompiledPolicy): string[] {
  const lines = [
    `policy ${policy.name} version ${policy.version}`,
    `currency ${policy.currency} (${policy.minorUnitDigits} decimals), rolling window ${formatDuration(policy.windowMs)} in ${formatDuration(policy.bucketMs)} buckets`,
    'tiers, most valuable first (first match wins):',
  ];
  policy.tiers.forEach((tier, i) => lines.push(`  ${i + 1}. ${tier.name}: ${describeListedTier(policy, tier)}`));
  lines.push(`  fallback ${policy.fallbackTier}: when no tier matches`);
  if (policy.inactiveTier !== null && policy.inactivityMs !== null) {
    lines.push(`  inactive ${policy.inactiveTier}: no purchase for ${formatDuration(policy.inactivityMs)} (beats every other rule, hysteresis included)`);
  } else {
    lines.push('inactivity: no rule (a customer never becomes inactive by time alone)');
  }
  const { downgradeMarginBps, downgradeGraceMs } = policy.hysteresis;
  const margin = downgradeMarginBps === 0 ? 'no downgrade margin' : `downgrade margin ${(downgradeMarginBps / 100).toString()}% (monetary, averageDailyBalance and profit lower bounds of the current tier relaxed by it)`;
  const grace = downgradeGraceMs === 0 ? 'no downgrade grace' : `downgrade grace ${formatDuration(downgradeGraceMs)} (a downgrade waits this long)`;
  lines.push(`hysteresis: ${margin}; ${grace}`);
  if (policy.ranking !== undefined) {
    lines.push(
      `ranking: ${policy.ranking.population} (customers with a purchase in the window who are not inactive), by value descending, ties by customer id ascending; a band "top a%-b%" of N ranked customers holds ranks floor(a% × N) + 1 .. floor(b% × N)`,
    );
    const every = policy.ranking.everyMs;
    lines.push(
      every === undefined
        ? '  boundaries: recomputed every PYRAMID_RANKING_INTERVAL (wall clock only: the event clock needs ranking.every)'
        : `  boundaries: recomputed at every multiple of ${formatDuration(every)} since 1970-01-01T00:00Z (event clock: once every partition's event time has passed it)`,
    );
  }
  lines.push(...describeSignals(policy));
  return lines;
}

/** The signal settings in words, one line per signal ("signals: none" without any). */
export function describeSignals(policy: CompiledPolicy): string[] {
  const signals = policy.signals;
  if (signals === undefined) return ['signals: none (no NEAR_UPGRADE or DOWNGRADE_PENDING is emitted)'];
  const lines = ['signals (on the signals topic):'];
  const near = signals.nearUpgrade;
  if (near === null) lines.push('  NEAR_UPGRADE: off');
  else {
    const within =
      'amountMinor' in near.within
        ? `${formatMinor(near.within.amountMinor, policy.minorUnitDigits)} ${policy.currency}`
        : `${(near.within.thresholdBps / 100).toString()}% of that tier's monetary threshold`;
    lines.push(`  NEAR_UPGRADE: when the spend still missing to the next tier is more than 0 and at most ${within}; at most once per ${formatDuration(near.cooldownMs)} per customer, repeated each ${formatDuration(near.cooldownMs)} while it still holds`);
  }
  lines.push(
    signals.downgradePending
      ? `  DOWNGRADE_PENDING: when a downgrade starts waiting out the ${formatDuration(policy.hysteresis.downgradeGraceMs)} grace (with when it takes effect and the spend that avoids it); DOWNGRADE_CANCELLED when it stops waiting without a tier change`
      : '  DOWNGRADE_PENDING: off',
  );
  return lines;
}
