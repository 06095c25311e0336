import { formatDuration } from '../duration.js';
import { formatMinor } from './money.js';
import type { Comparison, CompiledPolicy, CompiledTier, Condition } from './types.js';

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
  }
}

function describeListedTier(policy: CompiledPolicy, tier: CompiledTier): string {
  const parts = tier.conditions.map((condition) => describeCondition(policy, condition));
  if (tier.relative !== undefined) parts.unshift(`top ${tier.relative.topPercent}% by ${tier.relative.of}`);
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
